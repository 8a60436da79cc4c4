"""Checks on what callers pass in, made before anything is sent.

Model names become URL path segments on some routes, so they are held to DeepInfra's
``owner/name[:version]`` form: nothing that could add a segment, a query or a fragment gets
through. Messages are checked for the shape the API needs, with an error naming the fix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

__all__ = ["check_messages", "check_model_name", "model_path", "without_none"]

_SEGMENT = r"[A-Za-z0-9_](?:[A-Za-z0-9._+-]*[A-Za-z0-9_+-])?"
_MODEL_RE = re.compile(rf"{_SEGMENT}/{_SEGMENT}(?::[A-Za-z0-9._-]+)?")
_MAX_MODEL_NAME = 256
_ROLES = frozenset({"system", "user", "assistant", "tool", "developer", "function"})


def check_model_name(model: object) -> str:
    """Return ``model`` if it is a valid ``owner/name[:version]``; raise ``ValueError`` if not."""
    if not isinstance(model, str):
        raise TypeError(f"model must be a str such as 'owner/name', not {type(model).__name__}")
    if len(model) > _MAX_MODEL_NAME or not _MODEL_RE.fullmatch(model) or ".." in model:
        raise ValueError(
            f"invalid model name {model[:80]!r}: expected 'owner/name' or "
            "'owner/name:version' (letters, digits, '.', '_', '-', '+'; no spaces, '..', "
            "'?', '#' or leading '/'), for example 'meta-llama/Llama-3.3-70B-Instruct-Turbo'"
        )
    return model


def model_path(prefix: str, model: str) -> str:
    """``prefix/owner/name`` with each segment checked and percent-quoted."""
    check_model_name(model)
    owner, name = model.split("/", 1)
    return f"{prefix}/{quote(owner, safe='')}/{quote(name, safe=':+')}"


def check_messages(messages: object) -> list[dict[str, Any]]:
    """Validate chat messages and return them as a list of plain dicts.

    Each message needs a ``role`` (str) and ``content`` (str, a list of content parts, or
    ``None`` for an assistant message that carries ``tool_calls``).
    """
    if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence):
        raise TypeError(
            "messages must be a list of dicts such as "
            "[{'role': 'user', 'content': 'Hello'}], "
            f"not {type(messages).__name__}"
        )
    if not messages:
        raise ValueError("messages is empty: pass at least one {'role': 'user', 'content': ...}")
    out: list[dict[str, Any]] = []
    for i, item in enumerate(messages):
        message = item
        if hasattr(item, "to_dict") and not isinstance(item, Mapping):
            message = without_none(item.to_dict())
        if not isinstance(message, Mapping):
            raise TypeError(
                f"messages[{i}] must be a dict with 'role' and 'content', "
                f"not {type(message).__name__}"
            )
        role = message.get("role")
        if not isinstance(role, str) or not role:
            raise ValueError(
                f"messages[{i}] has no 'role': use one of 'system', 'user', 'assistant', 'tool'"
            )
        if role not in _ROLES:
            raise ValueError(
                f"messages[{i}] has role {role[:40]!r}: use one of "
                "'system', 'user', 'assistant', 'tool'"
            )
        if "content" not in message:
            raise ValueError(f"messages[{i}] ({role}) has no 'content'")
        content = message["content"]
        if content is None:
            if not message.get("tool_calls"):
                raise ValueError(
                    f"messages[{i}] ({role}) has content None; only an assistant message "
                    "with 'tool_calls' may omit content"
                )
        elif not isinstance(content, (str, list)):
            raise TypeError(
                f"messages[{i}] content must be a str or a list of content parts, "
                f"not {type(content).__name__}"
            )
        out.append(dict(message))
    return out


def without_none(params: Mapping[str, Any]) -> dict[str, Any]:
    """Drop unset (``None``) options: the API must never receive ``null`` for them."""
    return {k: v for k, v in params.items() if v is not None}
