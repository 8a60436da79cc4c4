"""Turning DeepInfra's error bodies into messages and typed errors.

DeepInfra answers errors in five body shapes (listed in docs/errors.md), and inside a 200
stream in two more; this module knows them all so the transport and the stream share one reading.
"""

from __future__ import annotations

import datetime
import email.utils
import html
import json
import math
import re
import reprlib
import time
from collections.abc import Mapping
from typing import Any, Optional

from ._exceptions import (
    APIStatusError,
    APIStreamError,
    AuthenticationError,
    CapabilityError,
    MissingAPIKeyError,
    status_error_class,
)

_MAX_TEXT = 500
# Request ids are short tokens; a longer value is cut so it cannot flood the message.
_MAX_REQUEST_ID = 200
_REQUEST_ID_HEADERS = ("x-request-id", "x-deepinfra-request-id", "request-id", "x-trace-id")
# Gateways (nginx, Cloudflare) answer 502/504 with an HTML page: its title says it all.
_HTML_START = re.compile(r"\s*<(?:!doctype|html|head|body|title|h1)\b", re.IGNORECASE)
_HTML_HEADING = re.compile(r"<(title|h1)\b[^>]*>(.*?)</\1\s*>", re.IGNORECASE | re.DOTALL)
_HTML_TAG = re.compile(r"<[^>]*>")


def decode_body(raw: bytes) -> Any:
    """The JSON value of a body, or its text (cut short) when it is not JSON."""
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):  # not JSON, or nested deeper than Python recurses
        return raw[: _MAX_TEXT * 4].decode("utf-8", "replace").strip()[:_MAX_TEXT]
    # A bare JSON string is the server's text too: cut like text (the fuzzer found 501).
    return value[:_MAX_TEXT] if isinstance(value, str) else value


def _html_message(text: str) -> Optional[str]:
    """The title (else the first heading) of an HTML error page; None when ``text`` is not
    such a page (the caller then keeps the text as it is)."""
    if not _HTML_START.match(text[:200]):
        return None
    found = _HTML_HEADING.search(text[:20_000])
    if found is None:
        return None
    message = " ".join(html.unescape(_HTML_TAG.sub(" ", found.group(2))).split())
    return message[:_MAX_TEXT] or None


def _maybe_json(text: str) -> Any:
    # DeepInfra's in-stream ``error_message`` is often itself a JSON document.
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        try:
            return json.loads(stripped)
        except (ValueError, RecursionError):
            pass
    return text


def _short(value: Any) -> str:
    # str() of a hostile value (a huge dict, an int with 100k digits) is cut, or refused.
    if isinstance(value, str):
        return value[:_MAX_TEXT]
    try:
        return reprlib.repr(value)[:_MAX_TEXT]
    except Exception:  # a value whose repr fails is still no reason to lose the error
        return type(value).__name__


def _fit(message: str, before: str = "", after: str = "") -> str:
    """``before + message + after`` within the message limit: the server's words are cut
    (ending "...") so that the SDK's own, which name the fix, stay whole."""
    room = _MAX_TEXT - len(before) - len(after)
    if len(message) > room:
        message = message[: max(room - 3, 0)] + "..."
    return f"{before}{message}{after}"[:_MAX_TEXT]


def _detail_list(items: list[Any]) -> str:
    parts = []
    size = 0
    for item in items:
        if size > _MAX_TEXT:
            break  # thousands of entries: the first ones make the message
        if isinstance(item, Mapping):
            loc = item.get("loc")
            where = ".".join(_short(p) for p in loc[:20]) if isinstance(loc, list) else ""
            msg = _short(item.get("msg") or item.get("message") or item)
            part = f"{where}: {msg}" if where else msg
        else:
            part = _short(item)
        parts.append(part)
        size += len(part) + 2
    return "; ".join(parts)[:_MAX_TEXT]


def error_message(body: Any, _depth: int = 0) -> Optional[str]:
    """The human message inside any of DeepInfra's error shapes, or None if there is none.

    Shapes: ``{"error": str}``, ``{"error": {"message": ...}}``, ``{"detail": str}``,
    ``{"detail": {"error": str}}``, ``{"detail": [{loc, msg, type}]}``, and the in-stream
    ``{"error_type": ..., "error_message": "<maybe JSON>"}``; a bare string is its own message.
    The message is at most 500 characters, whatever the body holds.
    """
    if _depth > 4:
        return None
    if isinstance(body, str):
        inner = _maybe_json(body)
        if inner is not body:
            return error_message(inner, _depth + 1) or body.strip()[:_MAX_TEXT]
        return _html_message(body) or body.strip()[:_MAX_TEXT] or None
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
            return value[:_MAX_REQUEST_ID]
    if isinstance(body, Mapping):
        value = body.get("request_id") or body.get("id")
        if isinstance(value, str) and value:
            return value[:_MAX_REQUEST_ID]
    return None


def retry_after(value: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or an HTTP date, counted
    from ``now``, a Unix time, by default the present), or None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        # "nan" and "inf" parse as floats but are no delay a server means.
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # HTTP dates are GMT, even when a sender forgets to say so
        when = when.replace(tzinfo=datetime.timezone.utc)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def status_error(
    status: int,
    headers: Mapping[str, str],
    raw: bytes,
    *,
    response: Any = None,
    method: str = "",
    path: str = "",
    key_sent: bool = True,
    note: str = "",
) -> APIStatusError:
    """The typed error for an HTTP error response, its message read from the body and its
    ``retry_after`` from the ``Retry-After`` header. A 401 says whether a key was sent
    (``key_sent``) and what to do about it. ``note`` (how the body was read: cut, not
    decoded) ends the message; the whole message stays within 500 characters."""
    body = decode_body(raw)
    message = error_message(body) or f"{method} {path} failed".strip()
    cls = status_error_class(status)
    unsupported = _UNSUPPORTED.search(message) if status in (400, 405) else None
    if status == 401:
        cls, message = _auth_failure(message, key_sent, note)
    elif unsupported is not None:
        cls = CapabilityError
        message = _capability_message(message, unsupported, note)
    else:
        message = _fit(message, after=note)
    err = cls(
        message,
        status_code=status,
        body=body,
        request_id=request_id(headers, body),
        response=response,
    )
    if isinstance(err, CapabilityError) and unsupported is not None:
        err.model = unsupported.group("model")
        err.feature = _feature(unsupported.group("what"))
    err.retry_after = retry_after(headers.get("Retry-After") or headers.get("retry-after"))
    return err


KEY_HELP = (
    "pass api_key=... or set the DEEPINFRA_API_KEY environment variable "
    "(get a key at https://deepinfra.com/dash/api_keys)"
)


def _auth_failure(message: str, key_sent: bool, note: str) -> tuple[type[APIStatusError], str]:
    """A 401's class and message: no key sent and a rejected key need different fixes."""
    if not key_sent:
        return MissingAPIKeyError, _fit(
            f"no API key was sent, and the server requires one: {KEY_HELP}", after=note
        )
    return AuthenticationError, _fit(
        message,
        "the API key was rejected (",
        "): check DEEPINFRA_API_KEY or api_key=..., a key from "
        f"https://deepinfra.com/dash/api_keys{note}",
    )


# "Tool calling is not supported for model: X", "json_object response format is not ...".
_UNSUPPORTED = re.compile(r"(?P<what>.*?)\s(?:is|are) not supported for model:?\s*(?P<model>\S+)")


def _feature(what: str) -> str:
    lowered = what.lower()
    if "tool" in lowered:
        return "tools"
    for name in ("json_schema", "json_object", "regex", "logprobs"):
        if name in lowered:
            return name
    return what.strip()


def _capability_message(message: str, found: re.Match[str], note: str) -> str:
    feature = _feature(found.group("what"))
    model = found.group("model").rstrip(".")
    if feature == "tools":
        fix = "pick a model that supports tool calling (tagged 'tool_calling' in the model list)"
    elif feature == "json_schema":
        fix = (
            "use response_format={'type': 'json_object'} and describe the schema in the "
            "prompt, or pick a model that supports JSON schemas"
        )
    elif feature == "json_object":
        fix = "pick a model that supports JSON output (tagged 'json_mode' in the model list)"
    else:
        fix = "leave that option out or pick another model"
    return _fit(message, after=f" (model {model} cannot do {feature}: {fix}){note}")


def is_error_frame(obj: Any) -> bool:
    """True for a stream frame that reports an error instead of carrying choices (absent
    or ``"choices": null``)."""
    return (
        isinstance(obj, Mapping)
        and obj.get("choices") is None
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
