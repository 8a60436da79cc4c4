"""``client.audio``: speech to text (transcriptions, translations) and text to speech."""

from __future__ import annotations

import pathlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Optional, Union, get_args

from .. import _constants as C
from .._config import TimeoutTypes
from .._error_body import decode_body
from .._exceptions import APIResponseValidationError, ArgumentValueError
from .._files import PathType, save_response
from .._keywords import strict_keywords
from .._multipart import FileInput, MultipartBody
from .._validation import check_model_name, without_none
from ..types import AudioResponse, Transcription
from ._base import Resource, call_options, decode_result

if TYPE_CHECKING:
    from .._http import HTTPResponse
    from ..client import DeepInfraClient

__all__ = ["Audio", "Speech", "Transcriptions", "Translations"]

TextFormat = Literal["json", "text", "srt", "verbose_json", "vtt"]
AudioFormat = Literal["wav", "mp3", "opus", "flac", "pcm"]
_AUDIO = C.OPENAI_PREFIX + "/audio/"


def _check_media(
    response: HTTPResponse, what: str, expected: str, refused: tuple[str, ...]
) -> None:
    """Raise when the answer's media type starts with one of ``refused``: a JSON error or a
    proxy's page that came with a 200 (its body goes into the error)."""
    media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type.startswith(refused):
        raw = response.read()
        raise APIResponseValidationError(
            f"{what} is {'JSON' if media_type.endswith('json') else media_type}, not {expected}",
            body=decode_body(raw),
            status_code=response.status_code,
            request_id=response.request_id,
        )


def _transcribe(
    client: DeepInfraClient,
    task: str,
    file: FileInput,
    fields: dict[str, Any],
    options: dict[str, Any],
) -> Union[Transcription, str]:
    """One multipart upload to ``/audio/{task}``; the answer as text or a Transcription."""
    check_model_name(fields["model"])
    granularities = fields.get("granularities") or ()
    if (
        isinstance(granularities, str)
        or not isinstance(granularities, Sequence)
        or not all(g in ("word", "segment") for g in granularities)
    ):
        raise ArgumentValueError(
            "timestamp_granularities must be a list of 'word' and/or 'segment', e.g. ['word'], "
            f"not {granularities!r}"
        )
    form = [(k, v) for k, v in fields.items() if v is not None and k != "granularities"]
    form += [("timestamp_granularities[]", g) for g in granularities]
    upload = MultipartBody(form, [("file", file)])
    response = client._send("POST", _AUDIO + task, model=fields["model"], upload=upload, **options)
    client.usage._record_native(fields["model"], None)
    fmt = fields["response_format"]
    if fmt in ("text", "srt", "vtt"):
        _check_media(response, f"the {task[:-1]} answer", fmt, ("text/html",))
        return response.read().decode("utf-8", "replace")
    return decode_result(response, Transcription, what=f"the {task[:-1]}", require=("text", str))


class Transcriptions(Resource):
    """``POST /v1/openai/audio/transcriptions``: speech to text in its own language."""

    __slots__ = ()

    @strict_keywords
    def create(
        self,
        /,
        *,
        file: FileInput,
        model: str = C.DEFAULT_TRANSCRIPTION_MODEL,
        language: Optional[str] = None,
        prompt: Optional[str] = None,
        response_format: TextFormat = "json",
        temperature: Optional[float] = None,
        timestamp_granularities: Optional[Sequence[Literal["word", "segment"]]] = None,
        extra_body: Optional[Mapping[str, Any]] = None,
        timeout: TimeoutTypes = None,
        extra_headers: Optional[Mapping[str, Optional[str]]] = None,
        max_retries: Optional[int] = None,
    ) -> Union[Transcription, str]:
        """Transcribe an audio file (flac, mp3, mp4, m4a, ogg, wav, webm), streamed from disk.

        Args:
            file: a path, a ``pathlib.Path``, bytes, a file opened with ``open(p, "rb")``,
                or ``(filename, data)``.
            model: a speech recognition model (Whisper).
            language: the spoken language as an ISO-639-1 code (``"en"``), if known.
            prompt: text to guide the style or the spelling of names.
            response_format: ``json`` and ``verbose_json`` give a
                :class:`~deepinfra_sdk.types.Transcription` (``verbose_json`` with language,
                duration and segments); ``text``, ``srt`` and ``vtt`` give a ``str``.
            temperature: sampling temperature, 0 to 1.
            timestamp_granularities: ``["word"]`` and/or ``["segment"]`` (``verbose_json``).
            extra_body: other form fields, sent as they are.
            timeout: this call's timeout (seconds, a ``(connect, read)`` pair or a
                :class:`~deepinfra_sdk.Timeout`) instead of the client's.
            extra_headers: headers added to this request (``None`` drops one).
            max_retries: this call's retry budget instead of the client's.
        """
        fields: dict[str, Any] = {"model": model, "language": language, "prompt": prompt}
        fields.update(response_format=response_format, temperature=temperature)
        fields.update(granularities=timestamp_granularities, **(extra_body or {}))
        options = call_options(timeout, extra_headers, max_retries)
        return _transcribe(self._client, "transcriptions", file, fields, options)


class Translations(Resource):
    """``POST /v1/openai/audio/translations``: speech in any language to English text."""

    __slots__ = ()

    @strict_keywords
    def create(
        self,
        /,
        *,
        file: FileInput,
        model: str = C.DEFAULT_TRANSCRIPTION_MODEL,
        prompt: Optional[str] = None,
        response_format: TextFormat = "json",
        temperature: Optional[float] = None,
        extra_body: Optional[Mapping[str, Any]] = None,
        timeout: TimeoutTypes = None,
        extra_headers: Optional[Mapping[str, Optional[str]]] = None,
        max_retries: Optional[int] = None,
    ) -> Union[Transcription, str]:
        """Translate speech to English text; the arguments are those of
        :meth:`Transcriptions.create` (without ``language`` and timestamps), the
        ``timeout``, ``extra_headers`` and ``max_retries`` options too."""
        fields: dict[str, Any] = {"model": model, "prompt": prompt}
        fields["response_format"] = response_format
        fields.update(temperature=temperature, **(extra_body or {}))
        options = call_options(timeout, extra_headers, max_retries)
        return _transcribe(self._client, "translations", file, fields, options)


class Speech(Resource):
    """``POST /v1/openai/audio/speech``: text to speech."""

    __slots__ = ()

    def _request(self, body: dict[str, Any], stream: bool, options: Any) -> HTTPResponse:
        if not isinstance(body["input"], str) or not body["input"].strip():
            raise ArgumentValueError("input must be the non-empty text to speak")
        check_model_name(body["model"])
        speed = body.get("speed")
        if speed is not None and (
            isinstance(speed, bool) or not isinstance(speed, (int, float)) or not 0.25 <= speed <= 4
        ):
            raise ArgumentValueError(f"speed must be between 0.25 and 4, got {speed!r}")
        client = self._client
        response = client._send(
            "POST", _AUDIO + "speech", without_none(body), model=body["model"], stream=stream,
            accept="audio/*", **options,
        )  # fmt: skip
        _check_media(response, "the speech answer", "audio", ("application/json", "text/"))
        client.usage._record_native(body["model"], None)
        return response

    @staticmethod
    def _no_audio(response: HTTPResponse) -> APIResponseValidationError:
        return APIResponseValidationError(
            "the speech answer holds no audio (an empty body)",
            status_code=response.status_code,
            request_id=response.request_id,
        )

    @strict_keywords
    def create(
        self,
        /,
        *,
        input: str,
        model: str = C.DEFAULT_SPEECH_MODEL,
        voice: Optional[str] = None,
        response_format: AudioFormat = "wav",
        speed: Optional[float] = None,
        extra_body: Optional[Mapping[str, Any]] = None,
        timeout: TimeoutTypes = None,
        extra_headers: Optional[Mapping[str, Optional[str]]] = None,
        max_retries: Optional[int] = None,
    ) -> AudioResponse:
        """Speak ``input``; the whole audio comes back as an
        :class:`~deepinfra_sdk.types.AudioResponse` (``.content``, ``.media_type``,
        ``.save(path)``, a player in Jupyter).

        Args:
            input: the text to speak.
            model: a text-to-speech model, e.g. ``"hexgrad/Kokoro-82M"``.
            voice: the model's voice, e.g. ``"af_bella"`` (the model's default if None).
            response_format: ``wav`` (the default), ``mp3``, ``opus``, ``flac`` or ``pcm``.
            speed: 0.25 to 4 (1 is normal).
            extra_body: other fields, sent as they are.
            timeout: this call's timeout (seconds, a ``(connect, read)`` pair or a
                :class:`~deepinfra_sdk.Timeout`) instead of the client's.
            extra_headers: headers added to this request (``None`` drops one).
            max_retries: this call's retry budget instead of the client's.
        """
        body: dict[str, Any] = {"model": model, "input": input, "voice": voice, "speed": speed}
        body.update(response_format=response_format, **(extra_body or {}))
        response = self._request(body, False, call_options(timeout, extra_headers, max_retries))
        content = response.read()
        if not content:
            raise self._no_audio(response)
        return AudioResponse(content, response_format, model, response.request_id)

    @strict_keywords
    def stream_to_file(
        self,
        path: PathType,
        /,
        *,
        input: str,
        model: str = C.DEFAULT_SPEECH_MODEL,
        voice: Optional[str] = None,
        response_format: AudioFormat = "wav",
        speed: Optional[float] = None,
        extra_body: Optional[Mapping[str, Any]] = None,
        timeout: TimeoutTypes = None,
        extra_headers: Optional[Mapping[str, Optional[str]]] = None,
        max_retries: Optional[int] = None,
    ) -> pathlib.Path:
        """Speak ``input`` into the file at ``path``, written as the bytes arrive (never
        whole in memory) and renamed into place once complete; returns the path. The
        other arguments are those of :meth:`create`."""
        named = pathlib.Path(path).suffix.lower()[1:]
        if named in get_args(AudioFormat) and named != response_format:
            # As AudioResponse.save: the bytes are written as they come, never converted.
            raise ArgumentValueError(
                f"cannot write {response_format} audio to {pathlib.Path(path).name!r}, whose "
                f"suffix names {named}: ask for response_format={named!r}, or change the suffix"
            )
        body: dict[str, Any] = {"model": model, "input": input, "voice": voice, "speed": speed}
        body.update(response_format=response_format, **(extra_body or {}))
        response = self._request(body, True, call_options(timeout, extra_headers, max_retries))
        return save_response(response, path, on_empty=lambda: self._no_audio(response))


class Audio(Resource):
    """``client.audio``: ``transcriptions``, ``translations`` and ``speech``."""

    __slots__ = ("speech", "transcriptions", "translations")

    def __init__(self, client: DeepInfraClient) -> None:
        super().__init__(client)
        self.transcriptions = Transcriptions(client)
        self.translations = Translations(client)
        self.speech = Speech(client)
