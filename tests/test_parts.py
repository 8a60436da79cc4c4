"""image_part/audio_part: every kind of source, the checks made before sending, and a
message with parts through the emulator (sync and async)."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest

from deepinfra_sdk import (
    ArgumentTypeError,
    ArgumentValueError,
    AsyncDeepInfraClient,
    DeepInfraClient,
    audio_part,
    image_part,
)
from deepinfra_sdk._parts import MAX_AUDIO_BYTES, MAX_IMAGE_BYTES
from deepinfra_sdk.emulator import Emulator

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVQI12PQz3wAAAJDAXkkWn+MAAAAAElFTkSuQmCC"
)
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 28
MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x00" * 4
MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"


def test_image_part_from_every_source(tmp_path: Path) -> None:
    path = tmp_path / "dot.png"
    path.write_bytes(PNG)
    expected = "data:image/png;base64," + base64.b64encode(PNG).decode()
    for source in (path, str(path), PNG, bytearray(PNG), io.BytesIO(PNG)):
        part = image_part(source)
        assert part == {"type": "image_url", "image_url": {"url": expected}}
    url = "https://example.com/cat.jpg"
    assert image_part(url, detail="low") == {
        "type": "image_url",
        "image_url": {"url": url, "detail": "low"},
    }
    assert image_part(expected)["image_url"]["url"] == expected


def test_image_part_checks_before_sending(tmp_path: Path) -> None:
    big = tmp_path / "big.png"
    with open(big, "wb") as f:
        f.truncate(MAX_IMAGE_BYTES + 1)  # sparse: the size is checked before reading
    with pytest.raises(ArgumentValueError, match="20 MB limit"):
        image_part(big)
    with pytest.raises(ArgumentValueError, match="20 MB limit"):
        image_part(io.BytesIO(PNG + b"\0" * MAX_IMAGE_BYTES))
    with pytest.raises(ArgumentValueError, match="not a JPEG, PNG"):
        image_part(b"GIF? no, text")
    with pytest.raises(ArgumentValueError, match="cannot read"):
        image_part(tmp_path / "missing.png")
    with pytest.raises(ArgumentValueError, match="empty"):
        image_part(b"")
    with pytest.raises(ArgumentValueError, match="detail"):
        image_part(PNG, detail="huge")
    with pytest.raises(ArgumentTypeError, match="text mode"):
        image_part(io.StringIO("x"))  # type: ignore[arg-type]
    with pytest.raises(ArgumentTypeError, match="path, bytes"):
        image_part(42)  # type: ignore[arg-type]


def test_audio_part(tmp_path: Path) -> None:
    assert audio_part(WAV)["input_audio"] == {
        "data": base64.b64encode(WAV).decode(),
        "format": "wav",
    }
    assert audio_part(io.BytesIO(MP3))["input_audio"]["format"] == "mp3"
    raw = tmp_path / "clip.mp3"
    raw.write_bytes(b"\x00\x01unknown bytes")
    assert audio_part(raw)["input_audio"]["format"] == "mp3"  # judged by the name
    with pytest.raises(ArgumentValueError, match="neither WAV nor MP3"):
        audio_part(b"\x00\x01unknown bytes")
    assert audio_part(b"\x00\x01", format="wav")["input_audio"]["format"] == "wav"
    with pytest.raises(ArgumentValueError, match="download it first"):
        audio_part("https://example.com/a.wav")


def test_parts_go_through_the_emulator() -> None:
    parts = [{"type": "text", "text": "What is in the picture?"}, image_part(PNG), audio_part(WAV)]
    with Emulator() as emu, DeepInfraClient(emu.api_key, base_url=emu.url) as client:
        done = client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": parts}]
        )
        assert done.text
        assert emu.requests[-1].json["messages"][0]["content"] == parts


@pytest.mark.anyio
async def test_parts_through_the_async_client() -> None:
    with Emulator() as emu:
        async with AsyncDeepInfraClient(emu.api_key, base_url=emu.url) as client:
            done = await client.chat.completions.create(
                model=MODEL,
                messages=[{"role": "user", "content": [image_part(PNG)]}],
                stream=True,
            )
            async with done:
                async for _ in done:
                    pass
            assert done.text


class _Trickle(io.RawIOBase):
    """A raw stream (like a pipe) whose read(n) returns at most 1000 bytes at a time."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)
        self.read_total = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        chunk = self._data.read(min(len(buffer), 1000))
        buffer[: len(chunk)] = chunk
        self.read_total += len(chunk)
        return len(chunk)


def test_image_part_reads_a_trickling_stream_whole_and_no_more_than_the_limit() -> None:
    image = PNG + b"\0" * 5000  # trailing bytes: a short read would cut them silently
    assert image_part(_Trickle(image)) == image_part(image)
    huge = _Trickle(PNG + b"\0" * (MAX_IMAGE_BYTES + 10**6))
    with pytest.raises(ArgumentValueError, match="20 MB limit"):
        image_part(huge)
    assert huge.read_total == MAX_IMAGE_BYTES + 1


def test_image_part_of_an_endless_device_stops_at_the_limit() -> None:
    # /dev/zero reports size 0 to the size check: the read itself must be bounded.
    with pytest.raises(ArgumentValueError, match="20 MB limit"):
        image_part("/dev/zero")


def test_image_part_refuses_a_data_uri_over_the_limit() -> None:
    uri = "data:image/png;base64," + base64.b64encode(PNG + b"\0" * MAX_IMAGE_BYTES).decode()
    with pytest.raises(ArgumentValueError, match="20 MB limit"):
        image_part(uri)


class _Endless(io.RawIOBase):
    """An endless raw stream of silence (like a device), counting what is read from it."""

    def __init__(self) -> None:
        self.read_total = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        assert self.read_total < 2 * MAX_AUDIO_BYTES, "read on far past the limit"
        n = min(len(buffer), 1 << 20)
        buffer[:n] = b"\0" * n
        self.read_total += n
        return n


def test_audio_part_reads_no_more_than_one_request_can_carry() -> None:
    endless = _Endless()
    with pytest.raises(ArgumentValueError, match="48 MB one request can carry"):
        audio_part(endless)
    assert endless.read_total == MAX_AUDIO_BYTES + 1
