"""The package surface: public names, docstrings, a cheap import with no side effects."""

from __future__ import annotations

import inspect
import logging
import subprocess
import sys

import deepinfra_sdk


def test_all_names_exist_and_are_documented() -> None:
    missing = []
    for name in deepinfra_sdk.__all__:
        obj = getattr(deepinfra_sdk, name)
        if not (inspect.isclass(obj) or inspect.isfunction(obj) or inspect.ismodule(obj)):
            continue
        if not (obj.__doc__ or "").strip():
            missing.append(name)
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if attr.startswith("_") or (
                    not callable(member) and not isinstance(member, property)
                ):
                    continue
                func = member.fget if isinstance(member, property) else member
                func = getattr(func, "__func__", func)
                if not (getattr(func, "__doc__", None) or "").strip():
                    missing.append(f"{name}.{attr}")
    assert missing == []


def test_resources_are_documented() -> None:
    from deepinfra_sdk import resources

    for name in resources.__all__:
        cls = getattr(resources, name)
        assert cls.__doc__
        for attr, member in vars(cls).items():
            if not attr.startswith("_") and callable(member):
                assert member.__doc__, f"{name}.{attr}"


def test_import_loads_neither_requests_nor_anyio_nor_dataclasses_json() -> None:
    code = (
        "import sys, deepinfra_sdk\n"
        "heavy = [m for m in ('requests', 'urllib3', 'anyio', 'dataclasses_json', 'marshmallow')"
        " if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_library_logging_is_silent_by_default() -> None:
    handlers = logging.getLogger("deepinfra_sdk").handlers
    assert any(isinstance(h, logging.NullHandler) for h in handlers)


def test_version() -> None:
    assert deepinfra_sdk.__version__.count(".") == 2
