"""Audio without weights: speech as real WAV files, and transcription of them.

Speech (``POST /v1/openai/audio/speech``; natively, ``{"text": ...}`` answered with a
``data:`` URI) is a tone sequence: each UTF-8 byte of the text
becomes a short sine tone whose pitch encodes the byte (``speed`` shortens the tones), in a
16-bit mono WAV at 24 kHz (or the same samples as raw ``pcm``). The standard library has no
MP3, Opus or FLAC encoder, so those formats are a clear 400.

Transcription (``/v1/openai/audio/transcriptions``, ``/translations`` and the native
``/v1/inference/{whisper model}``) reads the pitches back: the emulator's own speech is
transcribed to exactly its text. Any other audio becomes :data:`FIXED_SENTENCE`. Segments
are sentences and words are words, timed by where their bytes sit in the audio.
"""

from __future__ import annotations

import base64
import math
import re
import struct
from typing import Any, Dict, List, Optional, Tuple

from ._catalogue import find_model, usable_model
from ._errors import native_error, openai_error
from ._multipart import Form, UploadedFile

__all__ = [
    "FIXED_SENTENCE",
    "SAMPLE_RATE",
    "decode_speech",
    "encode_speech",
    "native_asr",
    "native_tts",
    "speech",
    "transcription",
]

SAMPLE_RATE = 24000
FIXED_SENTENCE = "The quick brown fox jumps over the lazy dog. It was a bright cold day in April."
_BASE_HZ, _STEP_HZ = 300.0, 40.0
_SEGMENT = 960  # samples per byte at speed 1 (40 ms)
_MIN_SEGMENT = 240
_MARK = b"deepinfra-emulator speech"
_FORMATS = ("mp3", "opus", "aac", "flac", "wav", "pcm")
_TEXT_FORMATS = ("json", "text", "srt", "verbose_json", "vtt")
_LANGUAGES = {"en": "english", "de": "german", "fr": "french", "es": "spanish", "it": "italian"}
_MAX_AUDIO_READ = 64 * 1024 * 1024
# The longest text voiced: OpenAI's limit, and a few seconds of the tone generator's time.
_MAX_SPEECH_CHARS = 4096


def _segment_length(speed: float) -> int:
    return max(_MIN_SEGMENT, round(_SEGMENT / speed))


def _samples(text: str, speed: float) -> bytes:
    length = _segment_length(speed)
    out = bytearray()
    pack = struct.Struct("<h").pack
    for byte in text.encode("utf-8"):
        step = 2 * math.pi * (_BASE_HZ + _STEP_HZ * byte) / SAMPLE_RATE
        for i in range(length):
            out += pack(int(9000 * math.sin(step * i + 0.5)))
    return bytes(out)


def encode_speech(text: str, *, speed: float = 1.0, fmt: str = "wav") -> bytes:
    """``text`` as audio in ``fmt`` (``wav`` or ``pcm``)."""
    data = _samples(text, speed)
    if fmt == "pcm":
        return data
    # A LIST/INFO chunk names the tone length, so transcription can find the tones.
    info = _MARK + b" segment=%d\0" % _segment_length(speed)
    info += b"\0" * (len(info) % 2)
    listing = b"INFO" + b"ISFT" + struct.pack("<I", len(info)) + info
    fmt_chunk = struct.pack("<HHIIHH", 1, 1, SAMPLE_RATE, SAMPLE_RATE * 2, 2, 16)
    chunks = (
        b"fmt " + struct.pack("<I", len(fmt_chunk)) + fmt_chunk,
        b"LIST" + struct.pack("<I", len(listing)) + listing,
        b"data" + struct.pack("<I", len(data)) + data,
    )
    body = b"WAVE" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _chunks(data: bytes) -> Dict[bytes, bytes]:
    found: Dict[bytes, bytes] = {}
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return found
    at = 12
    while at + 8 <= len(data):
        kind, size = data[at : at + 4], struct.unpack("<I", data[at + 4 : at + 8])[0]
        found.setdefault(kind, data[at + 8 : at + 8 + size])
        at += 8 + size + (size % 2)
    return found


def _tone_byte(samples: List[int]) -> int:
    # The pitch from the span between the first and the last zero crossing, each placed
    # between its two samples: accurate to a few Hz even for tones of a few periods.
    crossings = []
    for i in range(1, len(samples)):
        a, b = samples[i - 1], samples[i]
        if (a < 0) != (b < 0):
            crossings.append(i - 1 + a / (a - b))
    if len(crossings) < 2:
        return 0
    hz = (len(crossings) - 1) / (2 * (crossings[-1] - crossings[0]) / SAMPLE_RATE)
    return min(255, max(0, round((hz - _BASE_HZ) / _STEP_HZ)))


def decode_speech(data: bytes) -> Optional[Tuple[str, float]]:
    """The text and duration (seconds) of the emulator's own WAV; None for other audio."""
    chunks = _chunks(data)
    listing = chunks.get(b"LIST", b"")
    match = re.search(re.escape(_MARK) + rb" segment=(\d+)", listing)
    pcm = chunks.get(b"data")
    if match is None or pcm is None:
        return None
    length = int(match.group(1))
    count = len(pcm) // 2
    samples = struct.unpack(f"<{count}h", pcm[: count * 2])
    raw = bytes(
        _tone_byte(list(samples[at : at + length])) for at in range(0, count - length + 1, length)
    )
    return raw.decode("utf-8", "replace"), count / SAMPLE_RATE


def _duration(head: bytes, size: int) -> float:
    """Seconds of audio in a file of ``size`` bytes starting with ``head``: a WAV's from its
    header, anything else as if it were 128 kbit/s compressed audio."""
    fmt = head.find(b"fmt ", 12)
    data = head.find(b"data", 12)
    if head[:4] == b"RIFF" and fmt > 0 and data > 0 and len(head) >= max(fmt + 20, data + 8):
        per_second = struct.unpack("<I", head[fmt + 16 : fmt + 20])[0]
        declared = struct.unpack("<I", head[data + 4 : data + 8])[0]
        available = max(0, size - data - 8)
        return round(min(declared, available) / per_second, 3) if per_second else 0.0
    return round(size / 16000, 3)


def _heard(upload: UploadedFile) -> Tuple[str, float]:
    """What the audio says, and how long it is (only the emulator's own speech, which
    announces itself in its first bytes, is read whole)."""
    head = upload.read(4096)
    if _MARK in head:
        decoded = decode_speech(upload.read(_MAX_AUDIO_READ))
        if decoded is not None:
            return decoded
    return FIXED_SENTENCE, _duration(head, upload.size)


def _timeline(text: str, duration: float) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """Segments (sentences) and words, timed by their byte offsets in ``text``."""
    total = max(1, len(text.encode("utf-8")))

    def at(index: int) -> float:
        return round(duration * len(text[:index].encode("utf-8")) / total, 3)

    segments: List[Dict[str, Any]] = []
    for m in re.finditer(r"[^.!?]+[.!?]*", text):
        if m.group().strip():
            segments.append(
                {
                    "id": len(segments),
                    "seek": 0,
                    "start": at(m.start()),
                    "end": at(m.end()),
                    "text": m.group().strip(),
                    "tokens": [],
                    "temperature": 0.0,
                    "avg_logprob": -0.2,
                    "compression_ratio": 1.0,
                    "no_speech_prob": 0.01,
                }
            )
    words = [
        {"word": m.group(), "start": at(m.start()), "end": at(m.end())}
        for m in re.finditer(r"\S+", text)
    ]
    return segments, words


def _stamp(seconds: float, sep: str) -> str:
    ms = round(seconds * 1000)
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d}{sep}{ms % 1000:03d}"


def _subtitles(segments: List[Dict[str, Any]], vtt: bool) -> str:
    sep = "." if vtt else ","
    blocks = []
    for n, s in enumerate(segments, 1):
        timing = f"{_stamp(s['start'], sep)} --> {_stamp(s['end'], sep)}"
        blocks.append(f"{timing}\n{s['text']}\n" if vtt else f"{n}\n{timing}\n{s['text']}\n")
    return ("WEBVTT\n\n" if vtt else "") + "\n".join(blocks)


def _number(form: Form, name: str, low: float, high: float, openai: bool) -> Optional[float]:
    raw = form.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not low <= value <= high:
        message = f"{name} must be a number between {low} and {high}, got {raw!r}"
        raise openai_error(400, message, param=name) if openai else native_error(422, message)
    return value


def transcription(form: Form, translate: bool) -> Tuple[Any, str]:
    """The answer to ``/v1/openai/audio/transcriptions`` (or ``/translations``): a JSON
    payload, or text with its content type."""
    route = "/v1/openai/audio/" + ("translations" if translate else "transcriptions")
    upload = form.file("file")
    if upload is None:
        raise openai_error(400, "file is required: send the audio as the 'file' part", param="file")
    usable_model(form.get("model"), "automatic-speech-recognition", route)
    fmt = form.get("response_format") or "json"
    if fmt not in _TEXT_FORMATS:
        raise openai_error(
            400,
            f"response_format must be one of {', '.join(_TEXT_FORMATS)}",
            param="response_format",
        )
    _number(form, "temperature", 0, 1, True)
    text, duration = _heard(upload)
    language = "english" if translate else _LANGUAGES.get(form.get("language") or "en", "english")
    segments, words = _timeline(text, duration)
    if fmt == "text":
        return text + "\n", "text/plain; charset=utf-8"
    if fmt in ("srt", "vtt"):
        return _subtitles(segments, fmt == "vtt"), "text/plain; charset=utf-8"
    if fmt == "json":
        return {"text": text}, "application/json"
    granularities = form.fields.get("timestamp_granularities[]") or form.fields.get(
        "timestamp_granularities"
    )
    answer: Dict[str, Any] = {
        "task": "translate" if translate else "transcribe",
        "language": language,
        "duration": duration,
        "text": text,
        "segments": segments,
    }
    if granularities and "word" in granularities:
        answer["words"] = words
    return answer, "application/json"


def speech(body: Dict[str, Any]) -> Tuple[bytes, str]:
    """The audio answering ``POST /v1/openai/audio/speech``, with its content type."""
    text = body.get("input")
    if not isinstance(text, str) or not text.strip():
        raise openai_error(400, "input must be a non-empty string", param="input")
    if len(text) > _MAX_SPEECH_CHARS:
        raise openai_error(
            400, f"input is longer than {_MAX_SPEECH_CHARS} characters", param="input"
        )
    usable_model(body.get("model"), "text-to-speech", "/v1/openai/audio/speech")
    speed = body.get("speed", 1.0)
    if speed is None:
        speed = 1.0
    if isinstance(speed, bool) or not isinstance(speed, (int, float)) or not 0.25 <= speed <= 4:
        raise openai_error(400, "speed must be a number between 0.25 and 4", param="speed")
    fmt = body.get("response_format") or "wav"
    if fmt not in _FORMATS:
        raise openai_error(
            400, f"response_format must be one of {', '.join(_FORMATS)}", param="response_format"
        )
    if fmt not in ("wav", "pcm"):
        raise openai_error(
            400,
            f"the emulator cannot encode {fmt} (the Python standard library has no {fmt} "
            "encoder): ask for response_format='wav' or 'pcm'",
            param="response_format",
        )
    audio = encode_speech(text, speed=float(speed), fmt=fmt)
    return audio, "audio/wav" if fmt == "wav" else "audio/pcm"


def native_asr(entry: Dict[str, Any], form: Form, request_id: str) -> Dict[str, Any]:
    """The answer of a speech recognition model to ``POST /v1/inference/{model}``
    (multipart ``audio``, ``task``, ``language``, ``chunk_level``...)."""
    upload = form.file("audio")
    if upload is None:
        raise native_error(422, "audio is required: send the audio file as the 'audio' part")
    task = form.get("task") or "transcribe"
    if task not in ("transcribe", "translate"):
        raise native_error(422, f"task must be 'transcribe' or 'translate', got {task!r}")
    _number(form, "temperature", 0, 1, False)
    text, duration = _heard(upload)
    segments, words = _timeline(text, duration)
    pieces = words if form.get("chunk_level") == "word" else segments
    pricing = (find_model(entry["model_name"]) or entry).get("pricing") or {}
    cost = float(pricing.get("cents_per_input_sec", 0)) * duration / 100
    return {
        "text": text,
        "segments": [
            {"id": i, "text": p.get("text", p.get("word")), "start": p["start"], "end": p["end"]}
            for i, p in enumerate(pieces)
        ],
        "language": "en" if task == "translate" else (form.get("language") or "en"),
        "input_length_ms": round(duration * 1000),
        "request_id": request_id,
        "inference_status": {
            "status": "succeeded",
            "runtime_ms": max(1, round(duration * 50)),
            "cost": round(cost, 10),
            "tokens_generated": 0,
            "tokens_input": 0,
        },
    }


def native_tts(entry: Dict[str, Any], body: Dict[str, Any], request_id: str) -> Dict[str, Any]:
    """The answer of a text-to-speech model to ``POST /v1/inference/{model}``
    (``{"text", "preset_voice", "output_format", "speed"}``): the audio as a ``data:`` URI."""
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise native_error(422, "text must be a non-empty string")
    if len(text) > _MAX_SPEECH_CHARS:
        raise native_error(422, f"text is longer than {_MAX_SPEECH_CHARS} characters")
    fmt = body.get("output_format") or "wav"
    if fmt not in ("wav", "pcm"):
        raise native_error(
            422, f"the emulator cannot encode {fmt!r} (the standard library has no encoder)"
        )
    speed = body.get("speed") or 1.0
    if isinstance(speed, bool) or not isinstance(speed, (int, float)) or not 0.25 <= speed <= 4:
        raise native_error(422, "speed must be a number between 0.25 and 4")
    audio = base64.b64encode(encode_speech(text, speed=float(speed), fmt=fmt)).decode("ascii")
    cents = float((entry.get("pricing") or {}).get("cents_per_input_chars", 0)) * len(text)
    return {
        "audio": f"data:audio/{fmt};base64,{audio}",
        "request_id": request_id,
        "inference_status": {
            "status": "succeeded",
            "runtime_ms": 1 + len(text),
            "cost": round(cents / 100, 12),
            "tokens_generated": 0,
            "tokens_input": 0,
        },
    }
