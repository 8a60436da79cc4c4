"""``client.batches``: DeepInfra's Batch API (``/v1/openai/batches``) and the bulk runner."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Optional, Union

from .. import _constants as C
from .._bulk_types import Batch
from .._exceptions import ArgumentTypeError, ArgumentValueError
from .._keywords import strict_keywords
from .._pagination import Page
from .._polling import poll
from .._validation import path_id, with_query
from ._base import Resource, decode_result

if TYPE_CHECKING:
    from .._batch import BatchItem, ProgressOption
    from .._config import TimeoutTypes

__all__ = ["Batches"]

_PATH = C.OPENAI_PREFIX + "/batches"

RunRequests = Iterable[Union[Mapping[str, Any], tuple[str, Mapping[str, Any]]]]


def check_metadata(metadata: Optional[Mapping[str, str]]) -> dict[str, str]:
    """``metadata`` as DeepInfra takes it: at most 16 string pairs, keys of at most 64
    characters, values of at most 512."""
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise ArgumentTypeError(
            f"metadata must be a dict of strings, not {type(metadata).__name__}"
        )
    if len(metadata) > C.BATCH_METADATA_MAX_PAIRS:
        raise ArgumentValueError(
            f"metadata has {len(metadata)} pairs; DeepInfra keeps at most "
            f"{C.BATCH_METADATA_MAX_PAIRS}: drop some"
        )
    for key, value in metadata.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise ArgumentTypeError(f"metadata keys and values must be strings: {key!r}: {value!r}")
        if len(key) > C.BATCH_METADATA_KEY_CHARS or len(value) > C.BATCH_METADATA_VALUE_CHARS:
            raise ArgumentValueError(
                f"metadata key {key[:70]!r}: keys may be at most {C.BATCH_METADATA_KEY_CHARS} "
                f"characters and values at most {C.BATCH_METADATA_VALUE_CHARS}"
            )
    return dict(metadata)


class Batches(Resource):
    """``/v1/openai/batches``: run a file of requests within 24 hours, 20 % cheaper."""

    __slots__ = ()

    @strict_keywords
    def create(
        self,
        *,
        input_file_id: str,
        endpoint: str = "/v1/chat/completions",
        completion_window: str = "24h",
        metadata: Optional[Mapping[str, str]] = None,
        timeout: TimeoutTypes = None,
        extra_headers: Optional[Mapping[str, Optional[str]]] = None,
        max_retries: Optional[int] = None,
    ) -> Batch:
        """Start a batch over an uploaded file (see :meth:`Files.create`).

        Args:
            input_file_id: the id of the uploaded JSONL file.
            endpoint: the API path every line's ``url`` names: ``/v1/chat/completions``,
                ``/v1/completions`` or ``/v1/embeddings`` (without the ``/v1/openai`` prefix).
            completion_window: ``"24h"``, the only window DeepInfra offers.
            metadata: up to 16 string pairs kept with the batch (keys 64 characters,
                values 512).
            timeout: this call's timeout (seconds, a ``(connect, read)`` pair or a
                :class:`~deepinfra_sdk.Timeout`) instead of the client's; every method of
                ``files`` and ``batches`` takes it, and the two below.
            extra_headers: headers added to this request (``None`` drops one).
            max_retries: this call's retry budget instead of the client's.

        The POST is never retried once it may have reached the server: a batch is never
        created twice by the SDK.
        """
        path_id(input_file_id, "input_file_id")
        if endpoint not in C.BATCH_ENDPOINTS:
            raise ArgumentValueError(
                f"endpoint must be one of {', '.join(C.BATCH_ENDPOINTS)}, not {endpoint!r}"
            )
        if completion_window != "24h":
            raise ArgumentValueError(
                f"completion_window must be '24h' (DeepInfra's only window), not "
                f"{completion_window!r}"
            )
        payload = {
            "input_file_id": input_file_id,
            "endpoint": endpoint,
            "completion_window": completion_window,
            # DeepInfra's schema marks metadata required: always send an object.
            "metadata": check_metadata(metadata),
        }
        response = self._client._send(
            "POST",
            _PATH,
            payload,
            timeout=timeout,
            extra_headers=extra_headers,
            max_retries=max_retries,
        )
        return decode_result(response, Batch, what="the batch")

    @strict_keywords
    def retrieve(
        self,
        batch_id: str,
        *,
        timeout: TimeoutTypes = None,
        extra_headers: Optional[Mapping[str, Optional[str]]] = None,
        max_retries: Optional[int] = None,
    ) -> Batch:
        """A batch as it is now."""
        path = f"{_PATH}/{path_id(batch_id, 'batch_id')}"
        response = self._client._send(
            "GET", path, timeout=timeout, extra_headers=extra_headers, max_retries=max_retries
        )
        return decode_result(response, Batch, what="the batch")

    @strict_keywords
    def list(
        self,
        *,
        limit: Optional[int] = None,
        after: Optional[str] = None,
        timeout: TimeoutTypes = None,
        extra_headers: Optional[Mapping[str, Optional[str]]] = None,
        max_retries: Optional[int] = None,
    ) -> Page[Batch]:
        """A page of batches, newest first; iterating the page goes on through the
        following pages."""

        def fetch(cursor: Optional[str]) -> Page[Batch]:
            path = with_query(_PATH, {"limit": limit, "after": cursor})
            data = self._client._send(
                "GET", path, timeout=timeout, extra_headers=extra_headers, max_retries=max_retries
            ).json()
            return Page.from_wire(data, Batch.from_wire, fetch)

        return fetch(after)

    @strict_keywords
    def cancel(
        self,
        batch_id: str,
        *,
        timeout: TimeoutTypes = None,
        extra_headers: Optional[Mapping[str, Optional[str]]] = None,
        max_retries: Optional[int] = None,
    ) -> Batch:
        """Ask to stop a batch: it goes ``cancelling``, then ``cancelled`` (what had
        finished is still written to its output file)."""
        path = f"{_PATH}/{path_id(batch_id, 'batch_id')}/cancel"
        response = self._client._send(
            "POST", path, timeout=timeout, extra_headers=extra_headers, max_retries=max_retries
        )
        return decode_result(response, Batch, what="the batch")

    @strict_keywords
    def wait(
        self,
        batch_id: str,
        *,
        poll_interval: float = C.BATCH_POLL_INTERVAL,
        timeout: Optional[float] = None,
    ) -> Batch:
        """Poll a batch every ``poll_interval`` seconds until it is done (or ``timeout``
        seconds passed: then the batch as last seen, not done)."""
        return poll(
            lambda: self.retrieve(batch_id),
            done=lambda batch: batch.done,
            interval=poll_interval,
            timeout=timeout,
        )

    @strict_keywords
    def run(
        self,
        requests: RunRequests,
        *,
        state: Union[str, os.PathLike[str]],
        poll_interval: float = C.BATCH_POLL_INTERVAL,
        progress: ProgressOption = True,
    ) -> Iterator[BatchItem]:
        """Run chat requests through the Batch API, resumably; yield results in input order.

        Args:
            requests: dicts of ``chat.completions.create()`` keyword arguments, or
                ``(custom_id, dict)`` pairs (ids unique; by default the input position).
            state: a file recording the run (batch ids, files, progress). Run again with
                the same ``state`` and the same requests after a crash or Ctrl-C: nothing
                is uploaded or created twice, and every result the server holds comes back.
            poll_interval: seconds between status checks.
            progress: ``True`` shows a tqdm bar (or a stderr line without tqdm),
                ``False`` nothing, a callable gets a :class:`~deepinfra_sdk.BatchProgress`.

        Yields:
            One :class:`~deepinfra_sdk.BatchItem` per request, in input order: its
            ``completion``, or its ``error`` (a failed line, or a request the batch did not
            reach before it expired or was cancelled).

        Requests are split into several batches over DeepInfra's limits (50,000 lines or
        200 MB per file, one model per file). Memory stays flat: the JSONL is written to
        temporary files, results are read back from downloaded files through an on-disk
        index. Ctrl-C leaves the batches running, prints how to resume or cancel, and
        raises :class:`~deepinfra_sdk.BatchInterrupted`.
        """
        from .._bulk import BulkRun

        run = BulkRun(self._client, state, poll_interval=poll_interval, progress=progress)
        return run.results(requests)
