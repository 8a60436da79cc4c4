"""Python types as JSON schemas, and JSON values checked into those types.

One place for what tools and structured outputs both need: :func:`schema_of` describes a
type (``str``, ``int``, ``float``, ``bool``, ``None``, ``list[X]``, ``tuple[X, ...]``,
``dict[str, X]``, ``Optional``/``Union``, ``Literal``, ``Enum``, dataclasses, pydantic
models, ``Any``), and :func:`coerce` turns the model's JSON back into that type or raises
``ValueError`` naming where it went wrong. pydantic is never imported here: a pydantic
class can only exist if the caller imported pydantic already.
"""

from __future__ import annotations

import dataclasses
import enum
import sys
import typing
from collections.abc import Mapping, Sequence
from typing import Any, Union

__all__ = ["coerce", "is_pydantic_model", "schema_of"]

_NONE = type(None)


def is_pydantic_model(tp: Any) -> bool:
    """Whether ``tp`` is a pydantic model class (without importing pydantic)."""
    pydantic = sys.modules.get("pydantic")
    return (
        pydantic is not None
        and isinstance(tp, type)
        and issubclass(tp, getattr(pydantic, "BaseModel", ()))
    )


def _pydantic_schema(tp: Any) -> dict[str, Any]:
    json_schema = getattr(tp, "model_json_schema", None) or tp.schema  # pydantic 2, or 1
    schema = dict(json_schema())
    # A model that refers to itself comes as {"$defs": {...}, "$ref": "#/$defs/Model"}: tool
    # parameters (and a response schema) must be an object schema at the root, so the root
    # reference is resolved in place; the $defs stay for the references inside.
    ref = schema.get("$ref")
    for defs in ("$defs", "definitions"):
        prefix = f"#/{defs}/"
        if isinstance(ref, str) and ref.startswith(prefix):
            target = schema.get(defs, {}).get(ref[len(prefix) :])
            if isinstance(target, dict):
                del schema["$ref"]
                schema.update(target)
    return schema


def _hints(tp: Any) -> dict[str, Any]:
    """A dataclass's resolved field types; ``TypeError`` (not ``NameError``) if one names a
    type that does not exist where the class was defined."""
    try:
        return typing.get_type_hints(tp)
    except Exception as exc:
        raise TypeError(
            f"the field types of {tp.__name__} do not resolve ({exc}): define the types they "
            "name at module level, before the call"
        ) from None


def schema_of(tp: Any, _seen: tuple[Any, ...] = ()) -> dict[str, Any]:
    """The JSON schema of ``tp``; ``TypeError`` for a type it cannot describe."""
    if tp is Any or tp is object:
        return {}
    if is_pydantic_model(tp):
        return _pydantic_schema(tp)
    if tp is None or tp is _NONE:
        return {"type": "null"}
    simple = {str: "string", bool: "boolean", int: "integer", float: "number"}
    if tp in simple:
        return {"type": simple[tp]}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return {"enum": [m.value for m in tp]}
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if tp in _seen:
            raise TypeError(f"{tp.__name__} contains itself: a schema cannot describe that")
        hints = _hints(tp)
        props = {}
        required = []
        for f in dataclasses.fields(tp):
            if not f.init:
                continue
            props[f.name] = schema_of(hints.get(f.name, Any), (*_seen, tp))
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                required.append(f.name)
        schema: dict[str, Any] = {"type": "object", "properties": props, "required": required}
        schema["additionalProperties"] = False
        return schema
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is Union or type(tp).__name__ == "UnionType":
        branches = [schema_of(a, _seen) for a in args]
        return {"anyOf": branches}
    if origin is typing.Literal:
        return {"enum": list(args)}
    if origin in (list, set, frozenset, Sequence, typing.get_origin(Sequence[int])) or tp in (
        list,
        set,
    ):
        return {"type": "array", "items": schema_of(args[0], _seen) if args else {}}
    if origin is tuple or tp is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return {"type": "array", "items": schema_of(args[0], _seen)}
        if args:
            items = [schema_of(a, _seen) for a in args]
            return {"type": "array", "prefixItems": items, "minItems": len(items)}
        return {"type": "array"}
    if origin in (dict, Mapping, typing.get_origin(Mapping[str, int])) or tp is dict:
        value = schema_of(args[1], _seen) if len(args) == 2 else {}
        return {"type": "object", "additionalProperties": value}
    raise TypeError(f"cannot describe {tp!r} as a JSON schema: use a simpler type")


def _where(path: str) -> str:
    return path or "the value"


def coerce(tp: Any, value: Any, path: str = "") -> Any:
    """``value`` (decoded JSON) as an instance of ``tp``; ``ValueError`` naming the path."""
    if tp is Any or tp is object:
        return value
    if is_pydantic_model(tp):
        if hasattr(tp, "model_validate"):
            return tp.model_validate(value)
        return tp.parse_obj(value)
    if tp is None or tp is _NONE:
        if value is not None:
            raise ValueError(f"{_where(path)} should be null, got {value!r:.60}")
        return None
    if tp is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{_where(path)} should be true or false, got {value!r:.60}")
        return value
    if tp is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"{_where(path)} should be an integer, got {value!r:.60}")
        return value
    if tp is float:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ValueError(f"{_where(path)} should be a number, got {value!r:.60}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ValueError(f"{_where(path)} should be a string, got {value!r:.60}")
        return value
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            allowed = ", ".join(repr(m.value) for m in tp)
            raise ValueError(
                f"{_where(path)} should be one of {allowed}, got {value!r:.60}"
            ) from None
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if not isinstance(value, dict):
            raise ValueError(f"{_where(path)} should be an object, got {value!r:.60}")
        hints = _hints(tp)
        kwargs = {}
        for f in dataclasses.fields(tp):
            if not f.init:
                continue
            where = f"{path}.{f.name}" if path else f.name
            if f.name in value:
                kwargs[f.name] = coerce(hints.get(f.name, Any), value[f.name], where)
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ValueError(f"{where} is missing")
        return tp(**kwargs)
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is Union or type(tp).__name__ == "UnionType":
        if value is None and _NONE in args:
            return None
        problems = []
        for branch in args:
            try:
                return coerce(branch, value, path)
            except (ValueError, TypeError) as exc:
                problems.append(str(exc))
        raise ValueError("; or ".join(problems))
    if origin is typing.Literal:
        if value not in args:
            allowed = ", ".join(map(repr, args))
            raise ValueError(f"{_where(path)} should be one of {allowed}, got {value!r:.60}")
        return value
    if origin in (dict, Mapping, typing.get_origin(Mapping[str, int])) or tp is dict:
        if not isinstance(value, dict):
            raise ValueError(f"{_where(path)} should be an object, got {value!r:.60}")
        item = args[1] if len(args) == 2 else Any
        return {k: coerce(item, v, f"{path}[{k!r}]") for k, v in value.items()}
    if origin in (
        list,
        set,
        frozenset,
        tuple,
        Sequence,
        typing.get_origin(Sequence[int]),
    ) or tp in (
        list,
        tuple,
        set,
    ):
        if not isinstance(value, list):
            raise ValueError(f"{_where(path)} should be an array, got {value!r:.60}")
        if (origin is tuple or tp is tuple) and args and not (len(args) == 2 and args[1] is ...):
            if len(value) != len(args):
                raise ValueError(f"{_where(path)} should hold {len(args)} items")
            return tuple(coerce(a, v, f"{path}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
        item = args[0] if args else Any
        items = [coerce(item, v, f"{path}[{i}]") for i, v in enumerate(value)]
        if origin in (set, frozenset) or tp is set:
            return set(items)
        return tuple(items) if origin is tuple or tp is tuple else items
    raise TypeError(f"cannot check a value against {tp!r}: use a simpler type")
