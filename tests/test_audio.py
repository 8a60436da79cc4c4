"""``client.audio``: transcriptions and translations uploaded from disk, speech downloaded,
against the emulator (its speech is tones that transcribe back to their text)."""

from __future__ import annotations

import hashlib
import io
import os
import socket
import threading
import time
import tracemalloc
import wave
from pathlib import Path
from typing import Any

import pytest

from deepinfra_sdk import (
    APIConnectionError,
    APIResponseValidationError,
    ArgumentTypeError,
    ArgumentValueError,
    AsyncDeepInfraClient,
    AudioResponse,
    BadRequestError,
    DeepInfraClient,
    Transcription,
    UploadError,
)
from deepinfra_sdk.emulator import Emulator, Fault
from deepinfra_sdk.emulator._audio import FIXED_SENTENCE, encode_speech
from tests._servers import raw_server

TEXT = "Hello there. A second sentence!"
TRANSCRIBE = "/v1/openai/audio/transcriptions"


@pytest.fixture
def speech_file(tmp_path: Path) -> Path:
    path = tmp_path / "speech.wav"
    path.write_bytes(encode_speech(TEXT))
    return path


# -- transcriptions and translations ---------------------------------------------------------


@pytest.mark.parametrize("kind", ["str path", "Path", "bytes", "file", "tuple"])
def test_transcribe_any_kind_of_file(
    emu_client: DeepInfraClient, emu: Emulator, speech_file: Path, kind: str
) -> None:
    source: Any = {
        "str path": str(speech_file),
        "Path": speech_file,
        "bytes": speech_file.read_bytes(),
        "tuple": ("clip.wav", speech_file.read_bytes()),
    }.get(kind)
    with speech_file.open("rb") as f:
        result = emu_client.audio.transcriptions.create(file=source if source is not None else f)
    assert isinstance(result, Transcription)
    assert result.text == TEXT
    assert isinstance(result.request_id, str) and result.request_id
    form = emu.requests[-1].form
    assert form["fields"] == {"model": "openai/whisper-large-v3", "response_format": "json"}
    (upload,) = form["files"]["file"]
    assert upload["size"] == speech_file.stat().st_size
    assert upload["filename"] == {"bytes": "file", "tuple": "clip.wav"}.get(kind, "speech.wav")


def test_verbose_json_has_language_duration_segments_and_words(
    emu_client: DeepInfraClient, speech_file: Path
) -> None:
    result = emu_client.audio.transcriptions.create(
        file=speech_file,
        language="en",
        prompt="Greetings",
        temperature=0,
        response_format="verbose_json",
        timestamp_granularities=["word", "segment"],
    )
    assert isinstance(result, Transcription)
    assert (result.text, result.language, result.task) == (TEXT, "english", "transcribe")
    assert result.duration == pytest.approx(len(TEXT) * 0.04)
    assert result.segments is not None and result.words is not None
    assert [s.text for s in result.segments] == ["Hello there.", "A second sentence!"]
    assert [w.word for w in result.words] == TEXT.split()
    assert "avg_logprob" in result.segments[0].extra  # what the class does not model stays


@pytest.mark.parametrize(
    ("fmt", "start"),
    [("text", TEXT + "\n"), ("srt", "1\n00:00:00,000 --> "), ("vtt", "WEBVTT\n\n00:00:00.000")],
)
def test_text_formats_come_back_as_str(
    emu_client: DeepInfraClient, speech_file: Path, fmt: Any, start: str
) -> None:
    result = emu_client.audio.transcriptions.create(file=speech_file, response_format=fmt)
    assert isinstance(result, str) and result.startswith(start)


def test_translation_of_other_audio(emu_client: DeepInfraClient) -> None:
    result = emu_client.audio.translations.create(
        file=("song.mp3", b"ID3" + bytes(16000)), response_format="verbose_json"
    )
    assert isinstance(result, Transcription)
    assert (result.text, result.task, result.duration) == (FIXED_SENTENCE, "translate", 1.0)


def test_bad_arguments_are_refused_before_sending(
    emu_client: DeepInfraClient, emu: Emulator, tmp_path: Path
) -> None:
    with pytest.raises(FileNotFoundError, match="no file at"):
        emu_client.audio.transcriptions.create(file=tmp_path / "missing.wav")
    with pytest.raises(ArgumentTypeError, match="did you mean 'language'"):
        emu_client.audio.transcriptions.create(file=b"x", langauge="en")  # type: ignore[call-arg]
    with pytest.raises(ArgumentValueError):
        emu_client.audio.transcriptions.create(file=b"x", model="not a model")
    # A lone string would go out letter by letter ("w", "o", "r", "d") and give no words.
    for bad in ("word", ["words"], 5):
        with pytest.raises(ArgumentValueError, match=r"e\.g\. \['word'\]"):
            emu_client.audio.transcriptions.create(file=b"x", timestamp_granularities=bad)  # type: ignore[arg-type]
    assert emu.request_count(TRANSCRIBE) == 0


def test_a_50_mb_upload_never_sits_whole_in_memory(
    emu_client: DeepInfraClient, emu: Emulator, tmp_path: Path
) -> None:
    path = tmp_path / "long.wav"
    block = os.urandom(1 << 20)
    with path.open("wb") as f:
        for _ in range(50):
            f.write(block)
    del block
    tracemalloc.start()
    try:
        result = emu_client.audio.transcriptions.create(file=path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(result, Transcription) and result.text == FIXED_SENTENCE
    assert emu.requests[-1].form["files"]["file"][0]["size"] == 50 << 20
    # The client and the emulator (same process) held a few chunks at a time, not 50 MB.
    assert peak < 8 << 20, f"peak {peak / (1 << 20):.1f} MB"


def test_a_broken_upload_is_an_upload_error_and_not_retried(
    emu_client: DeepInfraClient, emu: Emulator
) -> None:
    class Breaks(io.RawIOBase):
        """A source that fails after 1 MB, like a file on a disk that went away."""

        sent = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            if self.sent >= 1 << 20:
                raise OSError(5, "Input/output error")
            buffer[: len(buffer)] = bytes(len(buffer))
            self.sent += len(buffer)
            return len(buffer)

    with pytest.raises(UploadError, match="Input/output error") as caught:
        emu_client.audio.transcriptions.create(file=("a.wav", io.BufferedReader(Breaks())))
    assert "a.wav" in caught.value.message
    deadline = time.monotonic() + 5
    while emu.request_count(TRANSCRIBE) == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)
    assert emu.request_count(TRANSCRIBE) == 1


def test_a_refused_upload_from_a_path_is_sent_again(
    emu_client: DeepInfraClient, emu: Emulator, speech_file: Path
) -> None:
    emu_client._transport._sleep = lambda _s: None
    emu.inject(Fault(status=429), route=TRANSCRIBE)
    result = emu_client.audio.transcriptions.create(file=speech_file)
    assert isinstance(result, Transcription) and result.text == TEXT
    assert emu.request_count(TRANSCRIBE) == 2


# -- speech ---------------------------------------------------------------------------------


def test_speech_is_audio_with_a_sniffed_type(
    emu_client: DeepInfraClient, emu: Emulator, tmp_path: Path
) -> None:
    audio = emu_client.audio.speech.create(input=TEXT, voice="af_bella", speed=2)
    assert isinstance(audio, AudioResponse)
    assert audio.media_type == "audio/wav"
    assert audio.request_id and audio.model == "hexgrad/Kokoro-82M"
    assert bytes(audio) == audio.content and len(audio) == len(audio.content)
    with wave.open(io.BytesIO(audio.content)) as w:
        assert w.getnframes() == len(TEXT) * 480  # speed 2: half the tones' length
    assert emu.requests[-1].json == {
        "model": "hexgrad/Kokoro-82M",
        "input": TEXT,
        "voice": "af_bella",
        "speed": 2,
        "response_format": "wav",
    }
    saved = audio.save(tmp_path / "hello")
    assert saved == tmp_path / "hello.wav" and saved.read_bytes() == audio.content
    assert audio.save(tmp_path) == tmp_path / "speech.wav"
    with pytest.raises(ArgumentValueError, match=r"use '\.wav'"):
        audio.save(tmp_path / "hello.mp3")
    assert not (tmp_path / "hello.mp3").exists()
    html = audio._repr_html_()
    assert html is not None and html.startswith('<audio controls src="data:audio/wav;base64,')
    assert "KB" in repr(audio) and "base64" not in repr(audio)
    # The emulator's speech transcribes back to its text: the two halves agree.
    back = emu_client.audio.transcriptions.create(file=saved)
    assert isinstance(back, Transcription) and back.text == TEXT


def test_pcm_is_raw_and_has_no_player(emu_client: DeepInfraClient) -> None:
    audio = emu_client.audio.speech.create(input="Hi", response_format="pcm")
    assert audio.media_type == "audio/pcm" and len(audio) == 2 * 960 * 2
    assert audio._repr_html_() is None


def test_a_format_the_server_cannot_make_is_its_400(emu_client: DeepInfraClient) -> None:
    with pytest.raises(BadRequestError, match="cannot encode mp3"):
        emu_client.audio.speech.create(input="Hi", response_format="mp3")
    with pytest.raises(ArgumentValueError, match="speed"):
        emu_client.audio.speech.create(input="Hi", speed=9)
    with pytest.raises(ArgumentValueError, match="speed"):
        emu_client.audio.speech.create(input="Hi", speed="fast")  # type: ignore[arg-type]


def test_a_json_answer_to_speech_is_an_error() -> None:
    body = b'{"error": "no audio today"}'

    def answer(conn: socket.socket) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nx-request-id: r1\r\n"
        conn.sendall(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)

    with raw_server(answer) as url, DeepInfraClient("k", base_url=url) as c:
        with pytest.raises(APIResponseValidationError, match="JSON, not audio") as caught:
            c.audio.speech.create(input="Hi")
    assert caught.value.body == {"error": "no audio today"}
    assert caught.value.request_id == "r1"


def test_a_web_page_answer_to_speech_is_an_error(tmp_path: Path) -> None:
    # A proxy's or captive portal's HTML page with a 200 is not audio to save as out.wav.
    body = b"<html><body>Sign in to continue</body></html>"
    target = tmp_path / "out.wav"

    def answer(conn: socket.socket) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
        conn.sendall(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)

    with raw_server(answer) as url, DeepInfraClient("k", base_url=url) as c:
        with pytest.raises(APIResponseValidationError, match="text/html, not audio") as caught:
            c.audio.speech.stream_to_file(target, input="Hi")
    assert caught.value.body == body.decode()
    assert not target.exists()


def test_a_web_page_answer_to_a_text_transcription_is_an_error(speech_file: Path) -> None:
    body = b"<html><body>Sign in to continue</body></html>"

    def answer(conn: socket.socket) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
        conn.sendall(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)

    with raw_server(answer) as url, DeepInfraClient("k", base_url=url) as c:
        with pytest.raises(APIResponseValidationError, match="text/html, not srt"):
            c.audio.transcriptions.create(file=speech_file, response_format="srt")


def test_an_empty_speech_answer_is_an_error(tmp_path: Path) -> None:
    # A 200 without a byte of audio (a broken proxy): an error, and the file already at the
    # target is not replaced by an empty one.
    target = tmp_path / "out.wav"
    target.write_bytes(b"old")

    def answer(conn: socket.socket) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: audio/wav\r\nx-request-id: r2\r\n"
        conn.sendall(head + b"Content-Length: 0\r\n\r\n")

    for call in (
        lambda c: c.audio.speech.create(input="Hi"),
        lambda c: c.audio.speech.stream_to_file(target, input="Hi"),
    ):
        with raw_server(answer) as url, DeepInfraClient("k", base_url=url) as c:
            with pytest.raises(APIResponseValidationError, match="no audio") as caught:
                call(c)
        assert caught.value.request_id == "r2" and caught.value.status_code == 200
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.wav"]


def test_stream_to_file_writes_as_the_bytes_arrive(
    emu_client: DeepInfraClient, emu: Emulator, tmp_path: Path
) -> None:
    text = "Streamed speech, a little longer than the rest. " * 4
    expected = encode_speech(text)
    target = tmp_path / "out.wav"
    seen: list[int] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            seen.extend(p.stat().st_size for p in tmp_path.glob(".out.wav.*.tmp"))
            time.sleep(0.005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    emu.inject(Fault(chunk_size=64 * 1024, drip_delay=0.05), route="/v1/openai/audio/speech")
    try:
        path = emu_client.audio.speech.stream_to_file(target, input=text)
    finally:
        done.set()
        watcher.join()
    assert path == target and target.read_bytes() == expected
    # The temporary file grew while the answer was still arriving: never held whole.
    assert any(0 < size < len(expected) for size in seen)
    assert [p.name for p in tmp_path.iterdir()] == ["out.wav"]


def test_stream_to_file_refuses_a_suffix_naming_another_format(
    emu_client: DeepInfraClient, emu: Emulator, tmp_path: Path
) -> None:
    # As AudioResponse.save does: mp3 bytes in a .wav file would lie about what they are.
    with pytest.raises(ArgumentValueError, match=r"'out\.wav'.*response_format='wav'"):
        emu_client.audio.speech.stream_to_file(
            tmp_path / "out.wav", input=TEXT, response_format="mp3"
        )
    assert emu.request_count("/v1/openai/audio/speech") == 0
    assert list(tmp_path.iterdir()) == []
    # A suffix that names no audio format is the caller's choice.
    emu_client.audio.speech.stream_to_file(tmp_path / "out.bin", input=TEXT)
    assert (tmp_path / "out.bin").read_bytes() == encode_speech(TEXT)


def test_stream_to_file_cut_short_leaves_nothing(
    emu_client: DeepInfraClient, emu: Emulator, tmp_path: Path
) -> None:
    target = tmp_path / "out.wav"
    target.write_bytes(b"old")
    emu.inject(Fault(drop="after_events", after_events=1), route="/v1/openai/audio/speech")
    with pytest.raises(APIConnectionError):
        emu_client.audio.speech.stream_to_file(target, input=TEXT)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.wav"]


def test_audio_calls_are_counted(emu_client: DeepInfraClient, speech_file: Path) -> None:
    emu_client.audio.speech.create(input="Hi")
    emu_client.audio.transcriptions.create(file=speech_file)
    by_model = emu_client.usage.by_model()
    assert by_model["hexgrad/Kokoro-82M"].requests == 1
    assert by_model["openai/whisper-large-v3"].requests == 1


# -- the async twins ------------------------------------------------------------------------


@pytest.mark.anyio
async def test_async_audio(emu: Emulator, speech_file: Path, tmp_path: Path) -> None:
    async with AsyncDeepInfraClient(emu.api_key, base_url=emu.url) as aclient:
        text = await aclient.audio.transcriptions.create(file=speech_file)
        assert isinstance(text, Transcription) and text.text == TEXT
        english = await aclient.audio.translations.create(
            file=speech_file.read_bytes(), response_format="text"
        )
        assert english == TEXT + "\n"
        audio = await aclient.audio.speech.create(input="Async words")
        assert audio.media_type == "audio/wav"
        path = await aclient.audio.speech.stream_to_file(tmp_path / "a.wav", input="Async words")
        assert hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(audio.content).digest()
