"""Checks on what callers pass in, made before anything is sent.

Model names become URL path segments on some routes, so they are held to DeepInfra's
``owner/name[:version]`` form: nothing that could add a segment, a query or a fragment gets
through. Messages are checked for the shape the API needs, and a request body too large to
be sensible is refused, each with an error naming the fix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Optional
from urllib.parse import quote, urlencode

from . import _constants as C
from ._config import Timeout, TimeoutTypes, coerce_timeout
from ._exceptions import ArgumentTypeError, ArgumentValueError
from ._messages import check_messages

__all__ = [
    "MAX_MODEL_NAME_LENGTH",
    "MAX_REQUEST_BYTES",
    "check_call_options",
    "check_encoded_size",
    "check_messages",
    "check_model_name",
    "check_request_size",
    "model_path",
    "native_path",
    "path_id",
    "with_query",
    "without_none",
]

# Explicit ASCII ranges (never \w or \d, which accept Unicode look-alikes) and no '/' inside
# a segment: a name that matches is exactly two path segments and an optional ':version'.
_SEGMENT = r"[A-Za-z0-9_](?:[A-Za-z0-9._+-]*[A-Za-z0-9_+-])?"
_MODEL_RE = re.compile(rf"{_SEGMENT}/{_SEGMENT}(?::[A-Za-z0-9._-]+)?")
# A custom deployment, as DeepInfra documents it: ``deploy_id:<id>`` (one path segment).
_DEPLOY_PREFIX = "deploy_id:"
_DEPLOY_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
#: The longest model name accepted. DeepInfra's names are well under 100 characters; a
#: longer string is a mistake (a prompt passed as the model), not a model.
MAX_MODEL_NAME_LENGTH = 256
#: The largest JSON request body the SDK sends. DeepInfra documents no limit; 64 MiB is far
#: beyond any context window, so a bigger body is a mistake that should fail here, at once,
#: rather than after a long upload.
MAX_REQUEST_BYTES = 64 * 1024 * 1024


def check_model_name(model: object) -> str:
    """Return ``model`` if it is a valid ``owner/name[:version]``, else raise an ArgumentError."""
    if not isinstance(model, str):
        raise ArgumentTypeError(
            f"model must be a str such as 'owner/name', not {type(model).__name__}"
        )
    if len(model) > MAX_MODEL_NAME_LENGTH:
        raise ArgumentValueError(
            f"the model name is {len(model)} characters long, over the limit of "
            f"{MAX_MODEL_NAME_LENGTH} (it starts {model[:40]!r}); pass a model name such as "
            "'meta-llama/Llama-3.3-70B-Instruct-Turbo', not the prompt"
        )
    if model.startswith(_DEPLOY_PREFIX) and _DEPLOY_RE.fullmatch(model[len(_DEPLOY_PREFIX) :]):
        return model
    if not _MODEL_RE.fullmatch(model) or ".." in model:
        raise ArgumentValueError(
            f"invalid model name {model[:80]!r}: expected 'owner/name', "
            "'owner/name:version' (letters, digits, '.', '_', '-', '+'; no spaces, '..', "
            "'?', '#' or leading '/') or 'deploy_id:<id>', for example "
            "'meta-llama/Llama-3.3-70B-Instruct-Turbo'"
        )
    return model


def model_path(prefix: str, model: str) -> str:
    """``prefix/owner/name`` with each segment checked and percent-quoted.

    A checked name needs no quoting ('+' and ':' are literal in a path); quoting anyway
    keeps a future change of the name rules from opening a way into the URL.
    """
    check_model_name(model)
    if "/" not in model:  # deploy_id:<id>
        return f"{prefix}/{quote(model, safe=':')}"
    owner, name = model.split("/", 1)
    return f"{prefix}/{quote(owner, safe=':+')}/{quote(name, safe=':+')}"


def native_path(model: str) -> str:
    """The native inference path of ``model``: ``/v1/inference/owner/name``, or
    ``/v1/inference/deploy/ID`` for a custom deployment named ``deploy_id:ID``."""
    if isinstance(model, str) and model.startswith(_DEPLOY_PREFIX):
        deploy = model[len(_DEPLOY_PREFIX) :]
        if not _DEPLOY_RE.fullmatch(deploy):
            raise ArgumentValueError(
                f"invalid deployment {model[:80]!r}: expected 'deploy_id:' and the id from "
                "your dashboard (letters, digits, '.', '_', '-')"
            )
        return f"{C.INFERENCE_PREFIX}/deploy/{deploy}"
    return model_path(C.INFERENCE_PREFIX, model)


class _Leave:
    """A marker on the walk's stack: the container with this id is fully counted."""

    __slots__ = ("ident",)

    def __init__(self, ident: int) -> None:
        self.ident = ident


def _json_size_at_least(value: Any, limit: int) -> int:
    """A lower bound of the compact UTF-8 JSON encoding's size, counted up to ``limit``.

    Cheaper than encoding (which the transport does once, later): a string counts one byte
    a character plus its quotes, any other leaf one byte. A container shared by several
    places counts at each, as JSON repeats it; one that contains itself is refused here,
    since ``json.dumps`` would only fail on it later, less clearly.
    """
    total = 0
    open_ids: set[int] = set()
    stack: list[Any] = [value]
    while stack and total <= limit:
        item = stack.pop()
        kind = type(item)
        if kind is str:
            total += len(item) + 2
        elif kind is _Leave:
            open_ids.discard(item.ident)
        elif kind in (dict, list, tuple) or isinstance(item, (Mapping, list, tuple)):
            ident = id(item)
            if ident in open_ids:
                raise ArgumentValueError(
                    "the request body contains a circular reference (a list or dict inside "
                    "itself), which JSON cannot encode: pass data without the cycle"
                )
            open_ids.add(ident)
            stack.append(_Leave(ident))
            # Brackets and commas; for a mapping, also the colon after each key.
            total += 1 + max(len(item), 1)
            if isinstance(item, Mapping):
                total += len(item)
                stack.extend(item.keys())
                stack.extend(item.values())
            else:
                stack.extend(item)
        else:
            total += 1
    return total


def check_request_size(payload: Any, limit: Optional[int] = None) -> None:
    """Refuse a JSON body larger than ``limit`` bytes (``MAX_REQUEST_BYTES`` by default,
    read at each call), before it is sent.

    Raises:
        ArgumentValueError: naming the size, the limit and what to do instead.
    """
    if limit is None:
        limit = MAX_REQUEST_BYTES
    size = _json_size_at_least(payload, limit)
    if size > limit:
        _refuse_size(f"at least {size:,}", limit)


def check_encoded_size(size: int) -> None:
    """Refuse an encoded request body of ``size`` bytes over ``MAX_REQUEST_BYTES``: the
    check above counts characters, and one character may take up to four bytes."""
    if size > MAX_REQUEST_BYTES:
        _refuse_size(f"{size:,}", MAX_REQUEST_BYTES)


def _refuse_size(size: str, limit: int) -> None:
    raise ArgumentValueError(
        f"the request body would be {size} bytes, over the SDK's limit of "
        f"{limit:,} bytes ({limit // (1024 * 1024)} MiB, MAX_REQUEST_BYTES): split the "
        "input over several requests, shorten the messages, or pass large images by "
        "URL instead of inline data"
    )


def path_id(value: object, what: str) -> str:
    """An object id (``file_abc``, ``batch_abc``) checked and quoted as one path segment."""
    if not isinstance(value, str) or not value.strip() or "/" in value:
        raise ArgumentValueError(
            f"{what} must be an id string such as 'file_abc123', not {value!r}"
        )
    return quote(value, safe="")


def with_query(path: str, params: Mapping[str, Any]) -> str:
    """``path`` with the set (not ``None``) ``params`` as its query string."""
    given = without_none(params)
    return f"{path}?{urlencode(given)}" if given else path


def without_none(params: Mapping[str, Any]) -> dict[str, Any]:
    """Drop unset (``None``) options: the API must never receive ``null`` for them."""
    return {k: v for k, v in params.items() if v is not None}


def check_call_options(
    timeout: TimeoutTypes,
    extra_headers: Optional[Mapping[str, Optional[str]]],
    max_retries: Optional[int],
) -> Optional[Timeout]:
    """Check a call's ``timeout=``/``extra_headers=``/``max_retries=`` (each ``None`` keeps
    the client's setting) and return the timeout as a :class:`Timeout` (or ``None``)."""
    if max_retries is not None and (
        not isinstance(max_retries, int) or isinstance(max_retries, bool) or max_retries < 0
    ):
        raise ArgumentValueError(
            f"max_retries must be a whole number of retries, 0 or more, got {max_retries!r}"
        )
    if extra_headers is not None:
        if not isinstance(extra_headers, Mapping):
            raise ArgumentTypeError(
                "extra_headers must be a dict of header names to str values, "
                f"not {type(extra_headers).__name__}"
            )
        for name, value in extra_headers.items():
            if not isinstance(name, str) or not (value is None or isinstance(value, str)):
                raise ArgumentTypeError(
                    f"extra_headers[{name!r}] must map a str name to a str value (or None "
                    f"to drop that header), not {type(value).__name__}"
                )
    return None if timeout is None else coerce_timeout(timeout)
