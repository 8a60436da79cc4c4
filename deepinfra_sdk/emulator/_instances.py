"""Instances of a JSON schema, deterministically: tool arguments and ``json_schema`` answers.

Covers what tool definitions and pydantic/dataclass schemas use: ``$ref`` into ``$defs`` /
``definitions``, ``anyOf``/``oneOf`` (the first non-null branch), ``allOf``, ``const``,
``enum``, typed objects (every property), arrays within ``minItems``/``maxItems``, numbers
within their bounds, strings within their lengths and common formats. What it cannot read
becomes a word.
"""

from __future__ import annotations

import random
from typing import Any, Dict, Optional

from ._text import WORDS

__all__ = ["instance"]

_FORMATS = {
    "date": "2024-05-17",
    "date-time": "2024-05-17T09:30:00Z",
    "time": "09:30:00",
    "email": "river@example.com",
    "uri": "https://example.com/river",
    "url": "https://example.com/river",
    "uuid": "6f1c2a4e-9b0d-4c3e-8a5f-1d2e3f405162",
}
_MAX_DEPTH = 8


def instance(schema: Any, rng: random.Random) -> Any:
    """A value valid for ``schema`` (as far as the keywords above go), from ``rng``."""
    root = schema if isinstance(schema, dict) else {}
    return _value(schema, rng, root, 0)


def _resolve(schema: Dict[str, Any], root: Dict[str, Any]) -> Dict[str, Any]:
    seen = 0
    while isinstance(schema.get("$ref"), str) and seen < 32:
        ref = schema["$ref"]
        target: Any = root
        if ref.startswith("#"):
            for part in ref[1:].split("/"):
                if part:
                    target = target.get(part, {}) if isinstance(target, dict) else {}
        merged = dict(target) if isinstance(target, dict) else {}
        merged.update({k: v for k, v in schema.items() if k != "$ref"})
        schema = merged
        seen += 1
    return schema


def _type(schema: Dict[str, Any]) -> Optional[str]:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        if "properties" in schema:
            return "object"
        if "items" in schema:
            return "array"
    return kind if isinstance(kind, str) else None


def _value(schema: Any, rng: random.Random, root: Dict[str, Any], depth: int) -> Any:
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return rng.choice(WORDS)
    schema = _resolve(schema, root)
    if "const" in schema:
        return schema["const"]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if isinstance(branches, list) and branches:
            usable = [b for b in branches if not (isinstance(b, dict) and b.get("type") == "null")]
            return _value((usable or branches)[0], rng, root, depth + 1)
    parts = schema.get("allOf")
    if isinstance(parts, list) and parts:
        merged: Dict[str, Any] = {}
        for raw in parts:
            if isinstance(raw, dict):
                part = _resolve(raw, root)
                props = {**merged.get("properties", {}), **part.get("properties", {})}
                merged.update(part)
                merged["properties"] = props
        rest = {k: v for k, v in schema.items() if k != "allOf"}
        return _value({**merged, **rest}, rng, root, depth + 1)
    kind = _type(schema)
    if kind == "object":
        props = schema.get("properties")
        if not isinstance(props, dict):
            return {}
        return {str(k): _value(v, rng, root, depth + 1) for k, v in props.items()}
    if kind == "array":
        low = schema.get("minItems", 1)
        high = schema.get("maxItems", max(low, 2))
        count = max(low, min(high, 1 + rng.randrange(2)))
        return [_value(schema.get("items"), rng, root, depth + 1) for _ in range(count)]
    if kind in ("integer", "number"):
        return _number(schema, rng, kind == "integer")
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "null":
        return None
    return _string(schema, rng)


def _number(schema: Dict[str, Any], rng: random.Random, integer: bool) -> Any:
    low = schema.get("minimum", schema.get("exclusiveMinimum", 0))
    high = schema.get("maximum", schema.get("exclusiveMaximum", max(low, 0) + 100))
    if "exclusiveMinimum" in schema and "minimum" not in schema:
        low += 1 if integer else 0.01
    if "exclusiveMaximum" in schema and "maximum" not in schema:
        high -= 1 if integer else 0.01
    if integer:
        import math

        lo, hi = math.ceil(low), math.floor(high)
        return rng.randint(lo, hi) if lo <= hi else lo
    return round(rng.uniform(low, high), 2) if low <= high else low


def _string(schema: Dict[str, Any], rng: random.Random) -> str:
    fmt = schema.get("format")
    if fmt in _FORMATS:
        return _FORMATS[fmt]
    text = rng.choice(WORDS)
    low = schema.get("minLength", 0)
    high = schema.get("maxLength")
    while len(text) < low:
        text += " " + rng.choice(WORDS)
    if isinstance(high, int):
        text = text[:high]
    return text
