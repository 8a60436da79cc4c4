"""Fresh identifiers: request ids, completion ids, tool call ids."""

from __future__ import annotations

import secrets
import string

__all__ = ["new_id", "new_request_id"]

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str = "", length: int = 24) -> str:
    """``prefix`` followed by ``length`` random letters and digits."""
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_request_id() -> str:
    """A request id like the ones DeepInfra sends in ``x-request-id``."""
    return new_id("", 24)
