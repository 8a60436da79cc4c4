"""FastAPI-style field validation: each failure is the 422 the real service would send."""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Union

from ._errors import validation_error

__all__ = ["optional_int", "optional_number", "required_str"]

Loc = Sequence[Union[str, int]]


def _bounds(loc: Loc, value: float, low: Optional[float], high: Optional[float]) -> None:
    if low is not None and value < low:
        raise validation_error(
            loc,
            f"ensure this value is greater than or equal to {low}",
            "value_error.number.not_ge",
            limit_value=low,
        )
    if high is not None and value > high:
        raise validation_error(
            loc,
            f"ensure this value is less than or equal to {high}",
            "value_error.number.not_le",
            limit_value=high,
        )


def optional_int(
    body: Dict[str, Any],
    name: str,
    *,
    low: Optional[int] = None,
    high: Optional[int] = None,
    prefix: Loc = ("body",),
) -> Optional[int]:
    """``body[name]`` as an int within ``low..high``, or None when absent or null."""
    value = body.get(name)
    if value is None:
        return None
    loc = [*prefix, name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise validation_error(loc, "value is not a valid integer", "type_error.integer")
    _bounds(loc, value, low, high)
    return value


def optional_number(
    body: Dict[str, Any],
    name: str,
    *,
    low: Optional[float] = None,
    high: Optional[float] = None,
    prefix: Loc = ("body",),
) -> Optional[float]:
    """``body[name]`` as a float within ``low..high``, or None when absent or null."""
    value = body.get(name)
    if value is None:
        return None
    loc = [*prefix, name]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise validation_error(loc, "value is not a valid float", "type_error.float")
    _bounds(loc, float(value), low, high)
    return float(value)


def required_str(body: Dict[str, Any], name: str, *, prefix: Loc = ("body",)) -> str:
    """``body[name]``, which must be a string."""
    loc = [*prefix, name]
    if name not in body or body[name] is None:
        raise validation_error(loc)
    value = body[name]
    if not isinstance(value, str):
        raise validation_error(loc, "str type expected", "type_error.str")
    return value
