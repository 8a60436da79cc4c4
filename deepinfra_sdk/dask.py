"""Chat completions over a Dask bag, holding the account's per-model limit cluster-wide.

DeepInfra admits at most 200 concurrent requests per model per account (its documented rate
limit): a cluster whose workers each open their own 200 gets 429s. :func:`map_chat` takes
a lease of a :class:`distributed.Semaphore` named after the model around every request, so
the whole cluster holds at most ``max_concurrency`` at once, however many workers it has.

Needs the ``dask`` extra (``pip install "deepinfra-sdk[dask]"``); ``import deepinfra_sdk``
never imports Dask.
"""

from __future__ import annotations

import importlib
import pickle
import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Optional

from ._batch import BatchItem
from ._exceptions import ArgumentTypeError, ArgumentValueError
from ._keywords import strict_keywords
from .client import DeepInfraClient

if TYPE_CHECKING:
    import dask.bag

__all__ = ["map_chat"]

DEFAULT_MAX_CONCURRENCY = 200
# Threads one partition task runs its requests on (each waits for a lease first).
_THREADS_PER_TASK = 32

_semaphores: dict[str, Any] = {}
_semaphores_lock = threading.Lock()


def _semaphore(model: str, cap: int) -> Any:
    """The cap's semaphore for ``model``: cluster-wide on a distributed worker, else one
    for this process (Dask's local schedulers run in one process)."""
    name = f"deepinfra-sdk:{cap}:{model}"
    with _semaphores_lock:
        found = _semaphores.get(name)
        if found is None:
            try:
                distributed: Any = importlib.import_module("distributed")
                distributed.get_worker()  # ValueError outside a worker
            except (ImportError, ValueError):
                found = threading.BoundedSemaphore(cap)
            else:
                found = distributed.Semaphore(max_leases=cap, name=name)
            _semaphores[name] = found
        return found


def _count(partition: Iterable[Any]) -> list[int]:
    return [sum(1 for _ in partition)]


def _offsets(counts: list[list[int]]) -> list[int]:
    out, total = [], 0
    for (n,) in counts:
        out.append(total)
        total += n
    return out


def _run_partition(
    partition: Iterable[Any],
    number: list[int],
    offsets: list[int],
    client: DeepInfraClient,
    cap: int,
) -> list[BatchItem]:
    """One partition's requests on a thread pool, each inside its model's lease."""
    requests = list(partition)
    start = offsets[number[0]]
    # Looked up here, in the task's thread: only there does Dask say which worker runs it.
    leases = {
        str(r.get("model")): _semaphore(str(r.get("model")), cap)
        for r in requests
        if isinstance(r, Mapping)
    }

    def one(position: int) -> BatchItem:
        request = requests[position]
        index = start + position
        if not isinstance(request, Mapping):
            error: Exception = ArgumentTypeError(
                f"request {index} is a {type(request).__name__}, not a dict of "
                "chat.completions.create() arguments"
            )
            return BatchItem(index, {}, error=error)
        if request.get("stream"):  # a stream cannot travel back from a worker
            error = ArgumentValueError(
                f"request {index} asks for stream=True, but map_chat runs whole "
                "(non-streamed) completions: remove 'stream'"
            )
            return BatchItem(index, request, error=error)
        try:
            with leases[str(request.get("model"))]:
                completion = client.chat.completions.create(**request)
        except Exception as exc:  # kept in the item's place; the others go on
            return BatchItem(index, request, error=exc)
        return BatchItem(index, request, completion)

    if not requests:
        return []
    # A copy of its own, closed at the end (a local scheduler shares one object between
    # tasks; a worker already holds a copy rebuilt from the configuration).
    client = pickle.loads(pickle.dumps(client))
    with client, ThreadPoolExecutor(min(len(requests), cap, _THREADS_PER_TASK)) as pool:
        return list(pool.map(one, range(len(requests))))


@strict_keywords
def map_chat(
    requests: dask.bag.Bag,
    *,
    client: Optional[DeepInfraClient] = None,
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
) -> dask.bag.Bag:
    """Run a bag of chat requests on a Dask cluster; a bag of per-item results, in order.

    Args:
        requests: a ``dask.bag.Bag`` of ``chat.completions.create()`` keyword dicts (from a
            dataframe: ``df.to_bag(format="dict").map(to_request)``).
        client: the :class:`DeepInfraClient` to use; it travels to the workers as its
            configuration. By default one configured from this process's environment.
        max_concurrency: the most requests for one model in flight at once across the whole
            cluster (DeepInfra's default per-model limit is 200).

    Returns:
        A lazy bag of :class:`~deepinfra_sdk.BatchItem` in input order (``index`` is the
        position in ``requests``), each with its ``completion`` or its ``error``; nothing
        runs until you ``compute()`` it.
    """
    # Through importlib: Dask is an optional extra and its functions are untyped.
    delayed: Any = importlib.import_module("dask").delayed
    db: Any = importlib.import_module("dask.bag")
    if not isinstance(requests, db.Bag):
        raise ArgumentTypeError(
            f"requests must be a dask.bag.Bag of create() keyword dicts, not "
            f"{type(requests).__name__} (dask.bag.from_sequence(requests) makes one)"
        )
    if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int):
        raise ArgumentTypeError(f"max_concurrency must be a whole number, not {max_concurrency!r}")
    if max_concurrency < 1:
        raise ArgumentValueError(f"max_concurrency must be at least 1, got {max_concurrency}")
    if client is None:
        client = DeepInfraClient()
    elif not isinstance(client, DeepInfraClient):
        raise ArgumentTypeError(f"client must be a DeepInfraClient, not {type(client).__name__}")
    parts = requests.npartitions
    bag: Any = requests
    counts = bag.map_partitions(_count).to_delayed()
    offsets = delayed(_offsets)(counts)
    numbers = db.from_sequence(range(parts), npartitions=parts)
    results: dask.bag.Bag = bag.map_partitions(
        _run_partition, numbers, offsets, client, max_concurrency
    )
    return results
