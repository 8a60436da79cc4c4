"""Waiting for a server-side job: ONE polling loop, for batches (and anything like them)."""

from __future__ import annotations

import time
from typing import Callable, Optional, TypeVar

from . import _cancel
from ._exceptions import APIConnectionError, ArgumentValueError

__all__ = ["poll"]

T = TypeVar("T")


def poll(
    fetch: Callable[[], T],
    *,
    done: Callable[[T], bool],
    interval: float,
    timeout: Optional[float] = None,
    on_update: Optional[Callable[[T], None]] = None,
    sleep: Callable[[float], None] = _cancel.sleep,
) -> T:
    """Call ``fetch()`` every ``interval`` seconds until ``done(result)``; return that result.

    ``on_update`` sees every result (the last one included). Past ``timeout`` seconds the
    last result is returned even if not done: the caller decides what that means.
    """
    if isinstance(interval, bool) or not isinstance(interval, (int, float)) or interval < 0:
        raise ArgumentValueError(
            f"poll_interval must be a number of seconds >= 0, got {interval!r}"
        )
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        result = fetch()
        if on_update is not None:
            on_update(result)
        if done(result) or (deadline is not None and time.monotonic() >= deadline):
            return result
        sleep(interval)
        guard = _cancel.current()
        if guard is not None and guard.aborted:
            raise APIConnectionError("the wait was cancelled")
