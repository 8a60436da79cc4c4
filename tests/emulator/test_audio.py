"""The emulator's audio: speech as real WAV tones, transcribed back to their text."""

from __future__ import annotations

import base64
import io
import wave

import pytest
import requests

from deepinfra_sdk.emulator import Emulator
from deepinfra_sdk.emulator._audio import FIXED_SENTENCE, decode_speech, encode_speech

TTS = "hexgrad/Kokoro-82M"
ASR = "openai/whisper-large-v3"
SPEECH = "/v1/openai/audio/speech"
TRANSCRIBE = "/v1/openai/audio/transcriptions"


@pytest.mark.parametrize("speed", [0.25, 1.0, 4.0])
def test_speech_round_trips_any_text(speed: float) -> None:
    text = "Hello, world! Ünïcødé ✓ 日本 " + bytes(range(32, 127)).decode()
    decoded = decode_speech(encode_speech(text, speed=speed))
    assert decoded is not None and decoded[0] == text
    assert decode_speech(b"RIFF....WAVEnot ours") is None


def test_speech_is_a_real_wav(emulator: Emulator, session: requests.Session) -> None:
    r = session.post(
        emulator.url + SPEECH, json={"model": TTS, "input": "Hi there.", "voice": "af_bella"}
    )
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "audio/wav"
    with wave.open(io.BytesIO(r.content)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 24000)
        assert w.getnframes() == len("Hi there.") * 960
    pcm = session.post(
        emulator.url + SPEECH, json={"model": TTS, "input": "Hi", "response_format": "pcm"}
    )
    assert pcm.headers["Content-Type"] == "audio/pcm" and len(pcm.content) == 2 * 960 * 2


def test_formats_the_standard_library_cannot_encode_are_a_clear_400(
    emulator: Emulator, session: requests.Session
) -> None:
    r = session.post(
        emulator.url + SPEECH, json={"model": TTS, "input": "x", "response_format": "mp3"}
    )
    assert r.status_code == 400
    assert "cannot encode mp3" in r.json()["error"]["message"]
    assert "'wav'" in r.json()["error"]["message"]
    bad = session.post(emulator.url + SPEECH, json={"model": TTS, "input": "x", "speed": 9})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "speed"
    wrong = session.post(emulator.url + SPEECH, json={"model": ASR, "input": "x"})
    assert wrong.status_code == 400


def test_transcription_of_own_speech_gives_its_text(
    emulator: Emulator, session: requests.Session
) -> None:
    text = "One sentence. And another one!"
    audio = encode_speech(text)
    r = session.post(
        emulator.url + TRANSCRIBE,
        data={
            "model": ASR,
            "response_format": "verbose_json",
            "timestamp_granularities[]": ["word", "segment"],
        },
        files={"file": ("speech.wav", audio, "audio/wav")},
    )
    assert r.status_code == 200
    body = r.json()
    assert body["text"] == text
    assert body["task"] == "transcribe" and body["language"] == "english"
    assert body["duration"] == pytest.approx(len(text) * 0.04)
    assert [s["text"] for s in body["segments"]] == ["One sentence.", "And another one!"]
    assert [w["word"] for w in body["words"]] == text.split()
    assert body["segments"][-1]["end"] == pytest.approx(body["duration"])
    plain = session.post(
        emulator.url + TRANSCRIBE, data={"model": ASR}, files={"file": ("a.wav", audio)}
    )
    assert plain.json() == {"text": text}


def test_subtitle_and_text_formats(emulator: Emulator, session: requests.Session) -> None:
    audio = encode_speech("Short. Long one.")

    def ask(fmt: str) -> requests.Response:
        return session.post(
            emulator.url + TRANSCRIBE,
            data={"model": ASR, "response_format": fmt},
            files={"file": ("a.wav", audio)},
        )

    assert ask("text").text == "Short. Long one.\n"
    srt = ask("srt").text
    assert srt.startswith("1\n00:00:00,000 --> 00:00:00,240\nShort.\n\n2\n")
    vtt = ask("vtt").text
    assert vtt.startswith("WEBVTT\n\n00:00:00.000 --> 00:00:00.240\nShort.\n")
    assert ask("xml").status_code == 400


def test_other_audio_is_the_fixed_sentence(emulator: Emulator, session: requests.Session) -> None:
    r = session.post(
        emulator.url + "/v1/openai/audio/translations",
        data={"model": ASR, "response_format": "verbose_json"},
        files={"file": ("song.mp3", b"ID3" + b"\0" * 32000)},
    )
    body = r.json()
    assert body["text"] == FIXED_SENTENCE and body["task"] == "translate"
    assert body["duration"] == 2.0
    assert len(body["segments"]) == 2
    missing = session.post(emulator.url + TRANSCRIBE, data={"model": ASR}, files={"x": b"1"})
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "file"
    not_form = session.post(emulator.url + TRANSCRIBE, json={"model": ASR})
    assert not_form.status_code == 400


def test_native_speech_recognition(emulator: Emulator, session: requests.Session) -> None:
    audio = encode_speech("Native words here.")
    r = session.post(
        emulator.url + "/v1/inference/" + ASR,
        data={"task": "transcribe", "chunk_level": "word"},
        files={"audio": ("a.wav", audio)},
    )
    body = r.json()
    assert body["text"] == "Native words here."
    assert [s["text"] for s in body["segments"]] == ["Native", "words", "here."]
    assert body["input_length_ms"] == 18 * 40
    assert body["request_id"] == r.headers["x-request-id"]
    assert body["inference_status"]["status"] == "succeeded"
    assert body["inference_status"]["cost"] == pytest.approx(0.0075 * 0.72 / 100)
    json_body = session.post(emulator.url + "/v1/inference/" + ASR, json={"audio": "x"})
    assert json_body.status_code == 400


def test_native_speech_is_a_data_uri(emulator: Emulator, session: requests.Session) -> None:
    url = emulator.url + "/v1/inference/" + TTS
    r = session.post(url, json={"text": "Natively.", "preset_voice": ["af_bella"]})
    body = r.json()
    assert body["audio"].startswith("data:audio/wav;base64,")
    decoded = decode_speech(base64.b64decode(body["audio"].split(",", 1)[1]))
    assert decoded is not None and decoded[0] == "Natively."
    assert body["inference_status"]["cost"] == pytest.approx(0.00008 * 9 / 100)
    assert session.post(url, json={"text": "x", "output_format": "mp3"}).status_code == 422
    assert session.post(url, json={"text": ""}).status_code == 422
    # As on the OpenAI route: a text that would take the emulator long to voice is refused.
    too_long = session.post(url, json={"text": "a" * 4097})
    assert too_long.status_code == 422 and "4096" in too_long.text
