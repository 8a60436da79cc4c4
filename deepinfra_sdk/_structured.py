"""Structured outputs: a type as a ``json_schema`` response format, and the answer parsed.

``response_format`` may be a pydantic model class (parsed with pydantic: the ``pydantic``
extra), a dataclass (checked field by field by :mod:`._jsonschema`, no extra needed) or a
JSON-schema dict (the answer is the decoded JSON object). An answer cut at the token limit
raises :class:`~deepinfra_sdk.LengthFinishReasonError`; one that is not valid JSON for the
type raises :class:`~deepinfra_sdk.APIResponseValidationError` with the raw content kept.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from typing import Any, Callable

from ._exceptions import APIResponseValidationError, ArgumentTypeError, LengthFinishReasonError
from ._jsonschema import coerce, is_pydantic_model, schema_of
from .types import ChatCompletion

__all__ = ["parse_completion", "response_format_for"]

_NAME_RE = re.compile(r"[^A-Za-z0-9_-]")


def _name(raw: Any) -> str:
    return _NAME_RE.sub("_", str(raw or "response"))[:64] or "response"


def response_format_for(tp: Any) -> tuple[dict[str, Any], Callable[[str], Any]]:
    """The ``response_format`` to send for ``tp``, and the parser for the answer's content."""
    if is_pydantic_model(tp):
        schema = schema_of(tp)

        def parse(content: str) -> Any:
            validate = getattr(tp, "model_validate_json", None) or tp.parse_raw
            return validate(content)

        name = tp.__name__
    elif dataclasses.is_dataclass(tp) and isinstance(tp, type):
        try:
            schema = schema_of(tp)
        except TypeError as exc:
            raise ArgumentTypeError(f"response_format {tp.__name__}: {exc}") from None

        def parse(content: str) -> Any:
            return coerce(tp, json.loads(content))

        name = tp.__name__
    elif isinstance(tp, Mapping):
        schema = dict(tp)

        def parse(content: str) -> Any:
            value = json.loads(content)
            if schema.get("type") == "object" and not isinstance(value, dict):
                raise ValueError(f"the answer is a {type(value).__name__}, not an object")
            return value

        name = schema.get("title") or "response"
    elif isinstance(tp, type) and tp.__module__ == "pydantic.main":  # pragma: no cover
        raise ArgumentTypeError(
            "pydantic models need pydantic: pip install 'deepinfra-sdk[pydantic]'"
        )
    else:
        raise ArgumentTypeError(
            "response_format must be a pydantic model class (pip install "
            "'deepinfra-sdk[pydantic]'), a dataclass or a JSON-schema dict, not "
            f"{tp!r:.80}; for {{'type': 'json_object'}} use create()"
        )
    fmt = {
        "type": "json_schema",
        "json_schema": {"name": _name(name), "schema": schema, "strict": True},
    }
    return fmt, parse


def parse_completion(completion: ChatCompletion, parse: Callable[[str], Any]) -> ChatCompletion:
    """Set ``message.parsed`` on every choice; raise if an answer was cut or does not fit."""
    for choice in completion.choices:
        content = choice.message.content or ""
        if choice.finish_reason == "length":
            err = LengthFinishReasonError(
                f"the answer was cut at the token limit (finish_reason 'length') after "
                f"{len(content)} characters, so it is not complete JSON: raise max_tokens "
                "or ask for a smaller answer",
                body=content,
                request_id=completion.request_id,
            )
            err.completion = completion
            raise err
        try:
            value = parse(content)
        except Exception as exc:  # pydantic's ValidationError, json's and ours: all ValueErrors
            raise APIResponseValidationError(
                f"the answer does not fit the response format: {exc}"[:2000],
                body=content,
                request_id=completion.request_id,
            ) from exc
        choice.message.__dict__["_parsed"] = value
    return completion
