"""A client that could not be installed is skipped with the reason, never silently."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import require


def test_a_missing_client_is_skipped_with_the_install_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = tmp_path / "install-failures.tsv"
    report.write_text("nosuchclient==9\tERROR: No matching distribution found\n", "utf-8")
    monkeypatch.setenv("DEEPINFRA_INTEROP_REPORT", str(report))
    with pytest.raises(pytest.skip.Exception, match="nosuchclient==9 could not be used: ERROR"):
        require("nosuchclient_module", "nosuchclient==9")
    monkeypatch.delenv("DEEPINFRA_INTEROP_REPORT")
    with pytest.raises(pytest.skip.Exception, match="not installed"):
        require("nosuchclient_module", "nosuchclient==9")
