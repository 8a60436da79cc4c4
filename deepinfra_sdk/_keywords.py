"""One way for public methods to refuse a keyword they do not take, naming the closest one.

Public signatures are explicit (no ``**params: Any``), so type checkers flag a misspelled
option and Python itself refuses it at the call. :func:`strict_keywords` only improves the
refusal: the ``TypeError`` Python raised while binding the arguments becomes an
:class:`~deepinfra_sdk.ArgumentTypeError` (so ``except DeepInfraError`` catches it too) whose
message names the closest valid keyword and, where the method has one, ``extra_body``.

It costs one extra call on the hot path and does work only after Python refused the call:
a ``TypeError`` raised inside the method body passes through untouched.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import re
from collections.abc import Collection
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from ._exceptions import ArgumentTypeError

if TYPE_CHECKING:
    # typing_extensions, not typing: a type checker targeting Python 3.9 has no
    # typing.ParamSpec and would see every decorated method as Any. Never imported at run time.
    from typing_extensions import ParamSpec

    P = ParamSpec("P")

__all__ = ["forwards_keywords", "strict_keywords", "suggest_keyword"]

R = TypeVar("R")
# Python 3.13 suggests a keyword itself; the message gives one suggestion, the SDK's.
_PYTHONS_SUGGESTION = re.compile(r"\. Did you mean '[^']*'\?$")


def suggest_keyword(name: str, valid: Any) -> str:
    """The fix for an unknown keyword ``name``: the closest of ``valid``, or the list."""
    names = sorted(valid)
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    return "valid keywords: " + ", ".join(names)


def _hint(keywords: Collection[str]) -> str:
    if "extra_body" in keywords:
        return " (a field the SDK does not know goes in extra_body={...})"
    return ""


def forwards_keywords(
    target: Callable[..., Any], *, fixed: Collection[str]
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """For a public method whose ``**options`` it passes on to ``target`` (typed for checkers
    as ``**options: Unpack[SomeOptions]``): its run-time signature lists ``target``'s
    keyword-only parameters but ``fixed`` (those the method sets itself) in place of
    ``**options``, for help(), editors and inspect; a keyword in neither list is refused
    before the method runs, naming the closest one, and the rest is :func:`strict_keywords`.
    """

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        own = inspect.signature(func)
        params = [p for p in own.parameters.values() if p.kind is not p.VAR_KEYWORD]
        taken = {p.name for p in params} | set(fixed)
        params += [
            p
            for p in inspect.signature(target).parameters.values()
            if p.kind is p.KEYWORD_ONLY and p.name not in taken
        ]
        keywords = frozenset(p.name for p in params if p.kind is not p.POSITIONAL_ONLY) - {"self"}
        hint = _hint(keywords)
        strict = strict_keywords(func)  # Python's own refusals (a missing argument...)

        def check(kwargs: dict[str, Any]) -> None:
            for name in kwargs:
                if name not in keywords:
                    fix = (
                        f"{func.__name__}() does not take it: call {target.__name__}({name}=...)"
                        if name in fixed
                        else suggest_keyword(name, keywords) + hint
                    )
                    raise ArgumentTypeError(
                        f"{func.__qualname__}() got an unexpected keyword argument {name!r}: {fix}"
                    )

        if inspect.iscoroutinefunction(func):

            async def acall(*args: P.args, **kwargs: P.kwargs) -> Any:
                check(kwargs)
                return await strict(*args, **kwargs)  # type: ignore[misc]

            checked: Callable[P, Any] = functools.wraps(strict)(acall)
        else:

            def call(*args: P.args, **kwargs: P.kwargs) -> Any:
                check(kwargs)
                return strict(*args, **kwargs)

            checked = functools.wraps(strict)(call)
        checked.__signature__ = own.replace(parameters=params)  # type: ignore[attr-defined]
        return checked

    return decorate


def strict_keywords(func: Callable[P, R]) -> Callable[P, R]:
    """Wrap a public function so a call Python refuses raises :class:`ArgumentTypeError`.

    The error keeps Python's own words (``Embeddings.create() got an unexpected keyword
    argument 'dimension'``) and adds the fix. The signature, name and docstring are the
    function's own, for help(), editors and the async twins built from it.
    """
    params = inspect.signature(func).parameters
    keywords = frozenset(
        name
        for name, p in params.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and name not in ("self", "cls")
    )
    hint = _hint(keywords)

    bare, qualified = f"{func.__name__}(", f"{func.__qualname__}("

    def refused(exc: TypeError, kwargs: dict[str, Any]) -> TypeError:
        tb = exc.__traceback__
        if isinstance(exc, ArgumentTypeError) or tb is None or tb.tb_next is not None:
            return exc  # raised inside the function, not by Python binding the call
        message = _PYTHONS_SUGGESTION.sub("", str(exc))
        if message.startswith(bare):  # Python before 3.10 names the function alone
            message = qualified + message[len(bare) :]
        unknown = [k for k in kwargs if k not in keywords]
        if unknown:
            message = f"{message}: {suggest_keyword(unknown[0], keywords)}{hint}"
        return ArgumentTypeError(message)

    if inspect.iscoroutinefunction(func):

        async def acall(*args: P.args, **kwargs: P.kwargs) -> Any:
            try:
                coro = func(*args, **kwargs)
            except TypeError as exc:
                error = refused(exc, kwargs)
                if error is exc:
                    raise
                raise error from None
            return await coro

        return functools.wraps(func)(acall)  # type: ignore[return-value]

    @functools.wraps(func)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except TypeError as exc:
            error = refused(exc, kwargs)
            if error is exc:
                raise
            raise error from None

    return call
