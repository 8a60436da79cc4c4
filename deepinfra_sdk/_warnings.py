"""The SDK's warnings: one category to filter, attributed to the caller's line, some once.

A warning is for something that works but is probably not what was meant (a base URL ending
in ``/v1/openai``, corrected; a deprecated model, still answering): the call goes on.
"""

from __future__ import annotations

import os
import sys
import threading
import warnings

__all__ = ["DeepInfraWarning", "warn", "warn_once"]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_said: set[str] = set()
_said_lock = threading.Lock()


class DeepInfraWarning(UserWarning):
    """Something works but is probably not what was meant; the message names the fix.

    Silence them with ``warnings.filterwarnings("ignore", category=DeepInfraWarning)``.
    """


def _stacklevel() -> int:
    """The stack level of the first frame outside this package: the caller's own line."""
    level = 1
    frame = sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


def warn(message: str) -> None:
    """Warn with :class:`DeepInfraWarning`, pointing at the caller's code."""
    warnings.warn(message, DeepInfraWarning, stacklevel=_stacklevel())


def warn_once(key: str, message: str) -> None:
    """:func:`warn`, the first time for ``key`` in this process only."""
    with _said_lock:
        if key in _said:
            return
        _said.add(key)
    warn(message)
