"""The emulator stands alone: standard library only, and the public API others code against."""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import inspect
import sys
import sysconfig
from pathlib import Path

import deepinfra_sdk.emulator as package
from deepinfra_sdk.emulator import Emulator, Fault

PACKAGE_DIR = Path(package.__file__).parent


def _is_stdlib(top: str) -> bool:
    names = getattr(sys, "stdlib_module_names", None)  # Python 3.10+
    if names is not None:
        return top in names
    # Python 3.9: built in, or found in the standard library's folder (not site-packages).
    spec = importlib.util.find_spec(top)
    if spec is None:
        return False
    if spec.origin in (None, "built-in", "frozen"):
        return True
    stdlib = sysconfig.get_paths()["stdlib"]
    return spec.origin.startswith(stdlib) and "site-packages" not in spec.origin


def test_imports_only_the_standard_library_and_itself() -> None:
    for path in sorted(PACKAGE_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert _is_stdlib(top) or top == "__future__", f"{path.name} imports {name}"
            if isinstance(node, ast.ImportFrom):
                assert node.level <= 1, f"{path.name} reaches outside the emulator package"


def test_public_names() -> None:
    assert {"Emulator", "Fault"} <= set(package.__all__)
    for name in package.__all__:
        assert getattr(package, name) is not None


def test_constructor_and_methods_match_the_contract() -> None:
    params = inspect.signature(Emulator.__init__).parameters
    expected = {
        "host": "127.0.0.1", "port": 0, "api_keys": None, "require_auth": True,
        "token_delay": 0.0, "framing": "chunked", "line_ending": "\n", "answer_tokens": 24,
    }  # fmt: skip
    for name, default in expected.items():
        assert params[name].default == default
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY
    for method in ("start", "stop", "inject", "clear_faults", "request_count", "reset",
                   "__enter__", "__exit__"):  # fmt: skip
        assert callable(getattr(Emulator, method))
    inject = inspect.signature(Emulator.inject).parameters
    assert inject["times"].default == 1 and inject["route"].default is None
    for attribute in ("url", "api_key", "requests", "event_gate", "token_delay", "framing",
                      "line_ending"):  # fmt: skip
        assert hasattr(Emulator, attribute)


def test_fault_fields_match_the_contract() -> None:
    defaults = {f.name: f.default for f in dataclasses.fields(Fault)}
    assert defaults == {
        "status": None, "body_shape": "auto", "message": None, "retry_after": None,
        "request_id": None, "drop": None, "after_events": 0, "stall": 0.0,
        "stall_at": "before_response", "malformed_frame": False, "error_frame": None,
        "no_done": False, "chunk_size": None, "drip_delay": 0.0, "framing": None,
        "line_ending": None, "bom": False, "comment_lines": False, "truncate": False,
        "invalid_utf8": False, "frame_bytes": None, "image_result": None,
    }  # fmt: skip
