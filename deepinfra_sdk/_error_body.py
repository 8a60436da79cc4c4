"""Turning DeepInfra's error bodies into messages and typed errors.

DeepInfra answers errors in five body shapes (see wire.md), and inside a 200 stream in two
more; this module knows them all so the transport and the stream share one reading.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Optional

from ._exceptions import APIStatusError, APIStreamError, status_error_class

_MAX_TEXT = 500
_REQUEST_ID_HEADERS = ("x-request-id", "x-deepinfra-request-id", "request-id", "x-trace-id")


def decode_body(raw: bytes) -> Any:
    """The JSON value of a body, or its text (cut short) when it is not JSON."""
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw[: _MAX_TEXT * 4].decode("utf-8", "replace").strip()[:_MAX_TEXT]


def _maybe_json(text: str) -> Any:
    # DeepInfra's in-stream ``error_message`` is often itself a JSON document.
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        try:
            return json.loads(stripped)
        except ValueError:
            pass
    return text


def _detail_list(items: list[Any]) -> str:
    parts = []
    for item in items:
        if isinstance(item, Mapping):
            loc = item.get("loc")
            where = ".".join(str(p) for p in loc) if isinstance(loc, list) else ""
            msg = str(item.get("msg") or item.get("message") or item)
            parts.append(f"{where}: {msg}" if where else msg)
        else:
            parts.append(str(item))
    return "; ".join(parts)


def error_message(body: Any, _depth: int = 0) -> Optional[str]:
    """The human message inside any of DeepInfra's error shapes, or None if there is none.

    Shapes: ``{"error": str}``, ``{"error": {"message": ...}}``, ``{"detail": str}``,
    ``{"detail": {"error": str}}``, ``{"detail": [{loc, msg, type}]}``, and the in-stream
    ``{"error_type": ..., "error_message": "<maybe JSON>"}``; a bare string is its own message.
    """
    if _depth > 4:
        return None
    if isinstance(body, str):
        inner = _maybe_json(body)
        if inner is not body:
            return error_message(inner, _depth + 1) or body.strip()[:_MAX_TEXT]
        return body.strip()[:_MAX_TEXT] or None
    if not isinstance(body, Mapping):
        return None
    for key in ("error", "detail", "error_message", "message"):
        value = body.get(key)
        if value is None:
            continue
        if isinstance(value, list):
            return _detail_list(value) or None
        found = error_message(value, _depth + 1)
        if found:
            return found
    return None


def error_type(body: Any) -> Optional[str]:
    """DeepInfra's ``error_type`` or the OpenAI-style ``error.type``, if present."""
    if isinstance(body, Mapping):
        if isinstance(body.get("error_type"), str):
            return str(body["error_type"])
        err = body.get("error")
        if isinstance(err, Mapping) and isinstance(err.get("type"), str):
            return str(err["type"])
    return None


def request_id(headers: Mapping[str, str], body: Any) -> Optional[str]:
    """The request id from the response headers or, failing that, from the body."""
    for name in _REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return value
    if isinstance(body, Mapping):
        value = body.get("request_id") or body.get("id")
        if isinstance(value, str) and value:
            return value
    return None


def status_error(
    status: int,
    headers: Mapping[str, str],
    raw: bytes,
    *,
    response: Any = None,
    method: str = "",
    path: str = "",
) -> APIStatusError:
    """The typed error for an HTTP error response, its message read from the body."""
    body = decode_body(raw)
    message = error_message(body) or f"{method} {path} failed".strip()
    cls = status_error_class(status)
    return cls(
        message,
        status_code=status,
        body=body,
        request_id=request_id(headers, body),
        response=response,
    )


def is_error_frame(obj: Any) -> bool:
    """True for a stream frame that reports an error instead of carrying choices."""
    return (
        isinstance(obj, Mapping)
        and "choices" not in obj
        and ("error" in obj or "error_type" in obj or "error_message" in obj)
    )


def stream_error(
    obj: Mapping[str, Any], *, partial_text: str, rid: Optional[str]
) -> APIStreamError:
    """The typed error for an in-stream error frame, keeping the text received so far."""
    message = error_message(obj) or "the server reported an error inside the stream"
    err = APIStreamError(
        message,
        body=dict(obj),
        request_id=rid,
        partial_text=partial_text,
    )
    err.error_type = error_type(obj)
    return err
