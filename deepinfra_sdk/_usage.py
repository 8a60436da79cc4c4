"""Usage and cost accounting: the running meter behind ``client.usage``.

Every client keeps one :class:`UsageMeter`. The resources record into it as answers arrive:

=============================  ==========================================================
call                           what is counted
=============================  ==========================================================
chat, not streamed             ``usage`` tokens and ``usage.estimated_cost``
chat, streamed                 the same, once, when the usage arrives on the finish chunk;
                               a stream that ends without usage (closed early, broken)
                               counts as a request with no tokens and no known cost
images                         ``inference_status.cost`` (and its token counts, if any)
embeddings                     ``usage`` tokens and ``estimated_cost`` when present
=============================  ==========================================================

Calls that fail with an error are not counted: they returned no usage. Counts are kept
per model, under the model name the call asked for.

Money is summed as :class:`decimal.Decimal`, each wire number converted through its
shortest ``repr`` (which is the JSON text the server sent, for the usual short numbers).
Summing floats would be close enough for a budget (a million additions drift by about a
millionth of a cent), but float addition is not associative: the same requests finishing
in a different order across threads would give totals that differ in the last digits, so
two runs of one batch could not be compared with ``==``. Decimal sums are exact and
order-independent; :attr:`UsageTotals.cost` gives the float view, rounded once.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    from decimal import Context, Decimal

    from .types import EmbeddingResponse, ImageResponse, InferenceStatus, Usage

    # requests, prompt, completion, total tokens, cost, unpriced, cached, reasoning tokens
    _Values = tuple[int, int, int, int, Decimal, int, int, int]
    # prompt, completion, total tokens, cost (None: not reported), cached, reasoning tokens
    _Numbers = tuple[int, int, int, Optional[Decimal], int, int]

__all__ = ["UsageMeter", "UsageSnapshot", "UsageTotals"]

_context: Optional[Context] = None


def _ctx() -> Context:
    """A private decimal context: the caller's thread context (its precision, its traps)
    must not change how the meter adds. ``decimal`` is imported on first use only, so
    ``import deepinfra_sdk`` stays cheap."""
    global _context
    if _context is None:
        import decimal

        # No traps: a nonsense amount from a server gives NaN/Infinity (rejected or shown)
        # instead of an exception that would fail a call whose answer had arrived.
        _context = decimal.Context(prec=60, rounding=decimal.ROUND_HALF_EVEN, traps=[])
    return _context


def _zero() -> Decimal:
    return _ctx().create_decimal(0)


def _money(value: Any) -> Optional[Decimal]:
    """A wire amount as an exact Decimal, or None when it is missing or not a number."""
    if value is None or isinstance(value, bool):
        return None
    ctx = _ctx()
    if isinstance(value, float):
        # repr is the shortest text that round-trips: the decimal the server wrote.
        return ctx.create_decimal(repr(value)) if math.isfinite(value) else None
    if isinstance(value, (int, str)):
        amount = ctx.create_decimal(value.strip() if isinstance(value, str) else value)
        return amount if amount.is_finite() else None
    from decimal import Decimal

    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    return None


def _tokens(value: Any) -> int:
    """A wire token count as an int (0 when missing or not a count)."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    return 0


@dataclass(frozen=True)
class UsageTotals:
    """Counts for one model, or for all of them: an immutable value.

    Attributes:
        requests: calls that returned an answer (a stream counts once, also if it ended
            early).
        prompt_tokens, completion_tokens, total_tokens: as the server reported them.
        cost_exact: the summed cost in US dollars, exactly (see :attr:`cost`).
        unpriced: how many of the requests reported no cost (a stream closed before its
            usage arrived, an answer without usage). When it is not 0, :attr:`cost` is a
            lower bound: those requests may still have been billed.
        cached_tokens: prompt tokens served from the prompt cache (part of
            ``prompt_tokens``, billed lower), as reported.
        reasoning_tokens: completion tokens a reasoning model spent thinking, as reported.

    Totals add and subtract (``after - before`` is what was spent in between).
    """

    requests: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost_exact: Decimal
    unpriced: int
    cached_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def cost(self) -> float:
        """The summed cost in US dollars, as a float (the exact sum, rounded once)."""
        return float(self.cost_exact)

    @classmethod
    def zero(cls) -> UsageTotals:
        """Totals of nothing."""
        return cls(0, 0, 0, 0, _zero(), 0)

    def _values(self) -> _Values:
        return (
            self.requests,
            self.prompt_tokens,
            self.completion_tokens,
            self.total_tokens,
            self.cost_exact,
            self.unpriced,
            self.cached_tokens,
            self.reasoning_tokens,
        )

    def _combine(self, other: UsageTotals, sign: int) -> _Values:
        ctx = _ctx()
        combine = ctx.add if sign > 0 else ctx.subtract
        return (
            self.requests + sign * other.requests,
            self.prompt_tokens + sign * other.prompt_tokens,
            self.completion_tokens + sign * other.completion_tokens,
            self.total_tokens + sign * other.total_tokens,
            combine(self.cost_exact, other.cost_exact),
            self.unpriced + sign * other.unpriced,
            self.cached_tokens + sign * other.cached_tokens,
            self.reasoning_tokens + sign * other.reasoning_tokens,
        )

    def __add__(self, other: UsageTotals) -> UsageTotals:
        if not isinstance(other, UsageTotals):
            return NotImplemented
        return UsageTotals(*self._combine(other, 1))

    def __sub__(self, other: UsageTotals) -> UsageTotals:
        if not isinstance(other, UsageTotals):
            return NotImplemented
        return UsageTotals(*self._combine(other, -1))

    def __bool__(self) -> bool:
        return bool(self.requests or self.total_tokens or self.cost_exact)

    def describe(self) -> str:
        """One line: ``3 requests, 120 tokens (100 prompt + 20 completion), $0.0000268``."""
        plural = "" if self.requests == 1 else "s"
        text = (
            f"{self.requests} request{plural}, {self.total_tokens} tokens "
            f"({self.prompt_tokens} prompt + {self.completion_tokens} completion), "
            f"{format_usd(self.cost_exact)}"
        )
        details = [
            f"{n} {what}"
            for n, what in ((self.cached_tokens, "cached"), (self.reasoning_tokens, "reasoning"))
            if n
        ]
        if details:
            text = text.replace(" completion)", f" completion; {', '.join(details)})", 1)
        if self.unpriced:
            text += f" (+ {self.unpriced} without a reported cost)"
        return text

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (the cost as a float)."""
        return {
            "requests": self.requests,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "cost": self.cost,
            "unpriced": self.unpriced,
            "cached_tokens": self.cached_tokens,
            "reasoning_tokens": self.reasoning_tokens,
        }


def format_usd(amount: Any) -> str:
    """``Decimal('0.0000268')`` or ``2.68e-05`` -> ``$0.0000268`` (never an exponent)."""
    exact = _money(amount)
    if exact is None:
        return "n/a"
    text = format(exact, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"${text or '0'}" if not text.startswith("-") else f"-${text[1:]}"


def _rebuild_snapshot(fields: _Values, models: dict[str, UsageTotals]) -> UsageSnapshot:
    return UsageSnapshot(*fields, models=MappingProxyType(dict(models)))


@dataclass(frozen=True)
class UsageSnapshot(UsageTotals):
    """The meter at one moment: the totals over every model (this object's own fields)
    and ``models``, a read-only mapping from model name to its :class:`UsageTotals`.

    Subtracting an earlier snapshot gives what was used in between, per model too.
    """

    models: Mapping[str, UsageTotals] = field(
        default_factory=lambda: MappingProxyType({}), hash=False
    )

    @property
    def totals(self) -> UsageTotals:
        """The totals over every model, without the per-model breakdown."""
        return UsageTotals(*self._values())

    def __sub__(self, other: UsageTotals) -> UsageSnapshot:
        if not isinstance(other, UsageTotals):
            return NotImplemented
        before = other.models if isinstance(other, UsageSnapshot) else {}
        zero = UsageTotals.zero()
        models = {}
        for name in {*self.models, *before}:
            diff = self.models.get(name, zero) - before.get(name, zero)
            if diff:
                models[name] = diff
        return _rebuild_snapshot(self._combine(other, -1), models)

    def __add__(self, other: UsageTotals) -> UsageSnapshot:
        if not isinstance(other, UsageTotals):
            return NotImplemented
        extra = other.models if isinstance(other, UsageSnapshot) else {}
        zero = UsageTotals.zero()
        models = {
            name: self.models.get(name, zero) + extra.get(name, zero)
            for name in {*self.models, *extra}
        }
        return _rebuild_snapshot(self._combine(other, 1), models)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values, with ``models`` as a dict of dicts."""
        data = super().to_dict()
        data["models"] = {name: t.to_dict() for name, t in sorted(self.models.items())}
        return data

    # A mappingproxy does not pickle: snapshots travel (from Dask workers, say) as dicts.
    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_snapshot, (self._values(), dict(self.models)))


class _Tally:
    """One model's running counts (mutated under the meter's lock only)."""

    __slots__ = (
        "cached",
        "completion",
        "cost",
        "prompt",
        "reasoning",
        "requests",
        "total",
        "unpriced",
    )

    def __init__(self) -> None:
        self.requests = 0
        self.prompt = 0
        self.completion = 0
        self.total = 0
        self.cost = _zero()
        self.unpriced = 0
        self.cached = 0
        self.reasoning = 0

    def frozen(self) -> UsageTotals:
        return UsageTotals(
            self.requests,
            self.prompt,
            self.completion,
            self.total,
            self.cost,
            self.unpriced,
            self.cached,
            self.reasoning,
        )


def _usage_numbers(usage: Any) -> _Numbers:
    """prompt, completion, total tokens and cost from a wire ``Usage`` (or None)."""
    if usage is None:
        return 0, 0, 0, None, 0, 0
    prompt = _tokens(getattr(usage, "prompt_tokens", 0))
    completion = _tokens(getattr(usage, "completion_tokens", 0))
    total = _tokens(getattr(usage, "total_tokens", 0)) or prompt + completion
    cached = _tokens(getattr(getattr(usage, "prompt_tokens_details", None), "cached_tokens", 0))
    details = getattr(usage, "completion_tokens_details", None)
    reasoning = _tokens(getattr(details, "reasoning_tokens", 0))
    cost = _money(getattr(usage, "estimated_cost", None))
    return prompt, completion, total, cost, cached, reasoning


class UsageMeter:
    """Tokens, requests and cost used through one client, in total and per model.

    ``client.usage`` is one of these; an :class:`~deepinfra_sdk.AsyncDeepInfraClient`
    shares the meter of the sync client it wraps. It is safe to read and record from any
    number of threads. Reading gives immutable values::

        client.usage.cost                    # US dollars so far, a float
        snap = client.usage.snapshot()       # UsageSnapshot: totals + .models
        client.usage.by_model()["meta-llama/Llama-3.3-70B-Instruct-Turbo"].total_tokens
        spent = client.usage.reset()         # what was counted, atomically zeroed

    A client copied by pickling (or rebuilt in a Dask or multiprocessing worker) starts
    with a fresh meter: each process counts its own calls.
    """

    __slots__ = ("_epoch", "_lock_obj", "_models", "_pid")

    def __init__(self) -> None:
        self._start()
        # Bumped by reset(): a stream that began before it does not take back counts
        # that reset() already handed out.
        self._epoch = 0

    def _start(self) -> None:
        self._lock_obj = threading.Lock()
        self._models: dict[str, _Tally] = {}
        self._pid = os.getpid()

    @property
    def _lock(self) -> threading.Lock:
        if self._pid != os.getpid():
            # A forked child: the lock may have been held by a thread that does not exist
            # here, and the counts are the parent's calls. This process counts its own.
            self._start()
        return self._lock_obj

    # -- recording ------------------------------------------------------------------------

    def record(
        self,
        model: str,
        *,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        total_tokens: Optional[int] = None,
        cost: Any = None,
        requests: int = 1,
        cached_tokens: int = 0,
        reasoning_tokens: int = 0,
    ) -> None:
        """Count a call made some other way (the SDK's own calls are counted already).

        ``cost`` is in US dollars (float, int, str or Decimal); ``None`` means unknown and
        counts the request as unpriced. ``total_tokens`` defaults to prompt + completion.
        """
        total = prompt_tokens + completion_tokens if total_tokens is None else total_tokens
        amount = _money(cost)
        numbers = (
            _tokens(prompt_tokens),
            _tokens(completion_tokens),
            _tokens(total),
            amount,
            _tokens(cached_tokens),
            _tokens(reasoning_tokens),
        )
        self._add(model, requests, numbers, requests if amount is None else 0)

    def _add(self, model: str, requests: int, numbers: _Numbers, unpriced: int) -> None:
        prompt, completion, total, cost, cached, reasoning = numbers
        add = _ctx().add
        with self._lock:
            tally = self._models.get(model)
            if tally is None:
                tally = self._models[model] = _Tally()
            tally.requests += requests
            tally.prompt += prompt
            tally.completion += completion
            tally.total += total
            tally.cached += cached
            tally.reasoning += reasoning
            if cost is not None:
                tally.cost = add(tally.cost, cost)
            tally.unpriced += unpriced

    def _record_usage(self, model: str, usage: Optional[Usage]) -> None:
        """A chat completion or embeddings answer: its ``usage``, if any."""
        numbers = _usage_numbers(usage)
        self._add(model, 1, numbers, int(numbers[3] is None))

    def _record_embeddings(self, model: str, response: EmbeddingResponse) -> None:
        self._record_usage(model, response.usage)

    def _record_image(self, model: str, response: ImageResponse) -> None:
        """An image answer: ``inference_status.cost`` and its token counts."""
        self._record_native(model, response.inference_status)

    def _record_native(self, model: str, status: Optional[InferenceStatus]) -> None:
        """A native answer (or one with no cost at all, ``status`` None): its
        ``inference_status`` cost and token counts."""
        if status is None:
            self._add(model, 1, (0, 0, 0, None, 0, 0), 1)
            return
        prompt = _tokens(status.tokens_input)
        completion = _tokens(status.tokens_generated)
        cost = _money(status.cost)
        numbers = (prompt, completion, prompt + completion, cost, 0, 0)
        self._add(model, 1, numbers, int(cost is None))

    # -- reading --------------------------------------------------------------------------

    def snapshot(self) -> UsageSnapshot:
        """The totals now, over all models and per model (an immutable value)."""
        with self._lock:
            return self._snapshot_locked()

    def _snapshot_locked(self) -> UsageSnapshot:
        models = {name: tally.frozen() for name, tally in self._models.items()}
        total = sum(models.values(), UsageTotals.zero())
        return _rebuild_snapshot(total._values(), models)

    def by_model(self) -> Mapping[str, UsageTotals]:
        """A read-only mapping from model name to its totals, as of now."""
        return self.snapshot().models

    def reset(self) -> UsageSnapshot:
        """Zero the meter and return what it held, atomically: a call finishing meanwhile
        is in exactly one of the returned snapshot and the meter's new counts."""
        with self._lock:
            snapshot = self._snapshot_locked()
            self._models = {}
            self._epoch += 1
        return snapshot

    @property
    def requests(self) -> int:
        """Calls counted so far."""
        return self.snapshot().requests

    @property
    def prompt_tokens(self) -> int:
        """Prompt tokens so far."""
        return self.snapshot().prompt_tokens

    @property
    def completion_tokens(self) -> int:
        """Completion tokens so far."""
        return self.snapshot().completion_tokens

    @property
    def total_tokens(self) -> int:
        """All tokens so far."""
        return self.snapshot().total_tokens

    @property
    def cached_tokens(self) -> int:
        """Prompt tokens served from the prompt cache so far."""
        return self.snapshot().cached_tokens

    @property
    def reasoning_tokens(self) -> int:
        """Completion tokens spent reasoning so far."""
        return self.snapshot().reasoning_tokens

    @property
    def cost(self) -> float:
        """US dollars so far, as a float (see :attr:`UsageTotals.cost_exact`)."""
        return self.snapshot().cost

    @property
    def cost_exact(self) -> Decimal:
        """US dollars so far, as an exact Decimal."""
        return self.snapshot().cost_exact

    def __repr__(self) -> str:
        snap = self.snapshot()
        models = len(snap.models)
        return f"<UsageMeter {snap.describe()} over {models} model{'' if models == 1 else 's'}>"

    # A meter counts one process's calls: a copy starts from zero.
    def __reduce__(self) -> tuple[Any, ...]:
        return (UsageMeter, ())


class StreamTally:
    """What one chat stream has counted: the request once, with the latest usage.

    DeepInfra sends usage once, on the finish chunk; a server that repeats it (cumulative
    counts on every chunk) adds only the difference each time. :meth:`end` counts a
    stream that never reported usage as a request without tokens or known cost. With
    ``meter=None`` (a stream built outside a client) it counts nothing.
    """

    __slots__ = ("_counted", "_epoch", "_meter", "_model", "_sent")

    def __init__(self, meter: Optional[UsageMeter], model: str) -> None:
        self._meter = meter
        self._model = model
        self._counted = False
        self._epoch = -1
        self._sent: _Numbers = (0, 0, 0, None, 0, 0)

    def usage(self, usage: Usage) -> None:
        """The stream received ``usage``."""
        meter = self._meter
        if meter is None:
            return
        numbers = _usage_numbers(usage)
        ctx = _ctx()
        with meter._lock:
            prompt, completion, total, cost, cached, reasoning = numbers
            old_p, old_c, old_t, old_cost, old_cached, old_reasoning = self._sent
            first = not self._counted
            unpriced = int(cost is None)
            if first:
                pass
            elif self._epoch == meter._epoch:
                unpriced -= int(old_cost is None)  # end() or an earlier usage counted it
            else:
                unpriced = 0  # counted before a reset() handed those counts out
            delta_cost = cost
            if old_cost is not None:
                delta_cost = ctx.subtract(cost if cost is not None else _zero(), old_cost)
            tally = meter._models.get(self._model)
            if tally is None:
                tally = meter._models[self._model] = _Tally()
            tally.requests += int(first)
            tally.prompt += prompt - old_p
            tally.completion += completion - old_c
            tally.total += total - old_t
            tally.cached += cached - old_cached
            tally.reasoning += reasoning - old_reasoning
            if delta_cost is not None:
                tally.cost = ctx.add(tally.cost, delta_cost)
            tally.unpriced += unpriced
            self._counted = True
            self._epoch = meter._epoch
            self._sent = numbers

    def end(self) -> None:
        """The stream is over (finished, closed or broken): count it if it was not."""
        meter = self._meter
        if meter is None:
            return
        with meter._lock:
            if self._counted:
                return
            self._counted = True
            self._epoch = meter._epoch
        meter._add(self._model, 1, (0, 0, 0, None, 0, 0), 1)
