"""Instances of a JSON schema, deterministically: tool arguments and ``json_schema`` answers.

Covers what tool definitions and pydantic/dataclass schemas use: ``$ref`` into ``$defs`` /
``definitions``, ``anyOf``/``oneOf`` (the first non-null branch), ``allOf``, ``const``,
``enum``, typed objects (every property), arrays within ``minItems``/``maxItems``, numbers
within their bounds, strings within their lengths and common formats. What it cannot read
becomes a word.

A request's schema is hostile input: an instance is at most ``_MAX_DEPTH`` deep and
``_MAX_NODES`` values big (a ``$ref`` cycle through many properties would otherwise grow
exponentially), arrays and strings are capped, and a bound that is not a finite number is
ignored, so any schema gets a bounded answer rather than a hang or a 500.
"""

from __future__ import annotations

import math
import random
from typing import Any, Dict, List, Optional

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
_MAX_NODES = 2000
_MAX_ITEMS = 16
_MAX_LENGTH = 4096


def instance(schema: Any, rng: random.Random) -> Any:
    """A value valid for ``schema`` (as far as the keywords above go, and within the caps
    above), from ``rng``."""
    root = schema if isinstance(schema, dict) else {}
    return _value(schema, rng, root, 0, [_MAX_NODES])


def _bound(schema: Dict[str, Any], key: str) -> Optional[float]:
    """A numeric keyword's value, or ``None`` when it is absent or not a usable number."""
    value = schema.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if abs(value) < 1e300 else None  # also refuses inf and nan (nan < x is False)


def _size(schema: Dict[str, Any], key: str, default: int, cap: int) -> int:
    """A count keyword (``minItems``, ``minLength``, ...) as an int within ``[0, cap]``."""
    value = schema.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        return default
    return max(0, min(value, cap))


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


def _value(
    schema: Any, rng: random.Random, root: Dict[str, Any], depth: int, left: List[int]
) -> Any:
    left[0] -= 1  # the values this instance may still hold
    if not isinstance(schema, dict) or depth > _MAX_DEPTH or left[0] < 0:
        return rng.choice(WORDS)
    schema = _resolve(schema, root)
    # Past half the depth (or budget) a recursive schema winds down: no optional
    # properties, arrays at their minimum, null where it is allowed; so a tree of models
    # ends in valid leaves rather than in words at the cut.
    deep = depth >= _MAX_DEPTH // 2 or left[0] < _MAX_NODES // 2
    if "const" in schema:
        return schema["const"]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if isinstance(branches, list) and branches:
            usable = [b for b in branches if not (isinstance(b, dict) and b.get("type") == "null")]
            if deep and len(usable) < len(branches):
                return None
            return _value((usable or branches)[0], rng, root, depth + 1, left)
    parts = schema.get("allOf")
    if isinstance(parts, list) and parts:
        merged: Dict[str, Any] = {}
        for raw in parts:
            if isinstance(raw, dict):
                part = _resolve(raw, root)
                own = part.get("properties")
                props = {**merged.get("properties", {}), **(own if isinstance(own, dict) else {})}
                merged.update(part)
                merged["properties"] = props
        rest = {k: v for k, v in schema.items() if k != "allOf"}
        return _value({**merged, **rest}, rng, root, depth + 1, left)
    kind = _type(schema)
    if kind == "object":
        props = schema.get("properties")
        if not isinstance(props, dict):
            return {}
        if deep:
            required = schema.get("required")
            needed = (
                [r for r in required if isinstance(r, str)] if isinstance(required, list) else []
            )
            props = {k: v for k, v in props.items() if k in needed}
        return {str(k): _value(v, rng, root, depth + 1, left) for k, v in props.items()}
    if kind == "array":
        low = _size(schema, "minItems", 0 if deep else 1, _MAX_ITEMS)
        high = _size(schema, "maxItems", max(low, 2), _MAX_ITEMS)
        count = low if deep else max(low, min(high, 1 + rng.randrange(2)))
        return [_value(schema.get("items"), rng, root, depth + 1, left) for _ in range(count)]
    if kind in ("integer", "number"):
        return _number(schema, rng, kind == "integer")
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "null":
        return None
    return _string(schema, rng)


def _number(schema: Dict[str, Any], rng: random.Random, integer: bool) -> Any:
    low = _bound(schema, "minimum")
    if low is None:
        low = _bound(schema, "exclusiveMinimum")
        low = 0 if low is None else low + (1 if integer else 0.01)
    high = _bound(schema, "maximum")
    if high is None:
        high = _bound(schema, "exclusiveMaximum")
        high = max(low, 0) + 100 if high is None else high - (1 if integer else 0.01)
    if integer:
        lo, hi = math.ceil(low), math.floor(high)
        return rng.randint(lo, hi) if lo <= hi else lo
    return round(rng.uniform(low, high), 2) if low <= high else low


def _string(schema: Dict[str, Any], rng: random.Random) -> str:
    fmt = schema.get("format")
    if isinstance(fmt, str) and fmt in _FORMATS:  # a list or dict would not even hash
        return _FORMATS[fmt]
    text = rng.choice(WORDS)
    low = _size(schema, "minLength", 0, _MAX_LENGTH)
    high = _size(schema, "maxLength", _MAX_LENGTH, _MAX_LENGTH)
    while len(text) < low:
        text += " " + rng.choice(WORDS)
    if "maxLength" in schema:
        text = text[:high]
    return text
