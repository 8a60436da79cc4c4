"""The emulator reads multipart bodies as they arrive, within limits, and records them."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from deepinfra_sdk import APIStatusError, DeepInfraClient
from deepinfra_sdk._multipart import MultipartBody
from deepinfra_sdk.emulator import Emulator
from deepinfra_sdk.emulator import _multipart as emu_multipart


def test_a_form_is_parsed_and_recorded_without_its_bytes(
    emulator: Emulator, session: requests.Session
) -> None:
    r = session.post(
        emulator.url + "/v1/openai/no-such-route",
        data={"model": "m/x", "language": "en"},
        files={"file": ("a.wav", b"RIFF" + b"\0" * 1000, "audio/wav")},
    )
    assert r.status_code == 404
    recorded = emulator.requests[-1]
    assert recorded.body == b""
    assert recorded.form == {
        "fields": {"model": "m/x", "language": "en"},
        "files": {"file": [{"filename": "a.wav", "content_type": "audio/wav", "size": 1004}]},
    }


def test_a_malformed_form_is_a_400(emulator: Emulator, session: requests.Session) -> None:
    r = session.post(
        emulator.url + "/v1/openai/audio/transcriptions",
        data=b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\nno end',
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )
    assert r.status_code == 400
    assert "ends inside" in r.json()["error"]


def test_an_upload_over_the_limit_is_a_413_and_not_retried(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(emu_multipart, "MAX_UPLOAD_BYTES", 1 << 20)
    path = tmp_path / "big.bin"
    path.write_bytes(b"\1" * (4 << 20))
    with DeepInfraClient(api_key=emulator.api_key, base_url=emulator.url) as client:
        with pytest.raises(APIStatusError) as caught:
            client._transport.request(
                "POST", "/v1/openai/audio/transcriptions", upload=MultipartBody(files={"f": path})
            )
    assert caught.value.status_code == 413
    assert "too large" in caught.value.message
    assert emulator.request_count("/v1/openai/audio/transcriptions") == 1
