"""The public pytest plugin: a user's test suite gets an emulator and a client."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path


def test_a_user_suite_uses_the_fixtures(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["deepinfra_sdk.pytest_plugin"]\n')
    (tmp_path / "test_user.py").write_text(
        textwrap.dedent(
            """
            import pytest
            from deepinfra_sdk import InternalServerError
            from deepinfra_sdk.emulator import Fault

            def test_chat(deepinfra_client):
                out = deepinfra_client.chat.completions.create(
                    model="meta-llama/Llama-3.3-70B-Instruct-Turbo",
                    messages=[{"role": "user", "content": "hi"}],
                )
                assert out.text

            def test_fault(deepinfra_client, deepinfra_emulator):
                deepinfra_emulator.inject(Fault(status=500), times=1)
                with pytest.raises(InternalServerError):
                    deepinfra_client.models.list()
                assert deepinfra_emulator.request_count("/models/featured") == 1
            """
        )
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-W",
            "error",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
