"""Files and batches (``/v1/openai/files``, ``/v1/openai/batches``), on a clock tests control.

A batch's life is a function of time: ``validating`` for ``phases["validating"]`` seconds,
then ``in_progress`` (its lines are answered at an even pace over ``phases["in_progress"]``
seconds), ``finalizing``, then ``completed``; or ``failed`` when a line breaks DeepInfra's
rules (checked as DeepInfra checks them: one JSON object per line with a unique
``custom_id``, ``method`` POST, ``url`` = the batch's endpoint, a ``body``, one model per
file), ``expired`` when the 24 h window closes first (finished lines are still written, the
rest go to the error file), and ``cancelling`` -> ``cancelled``. The state is worked out
whenever a batch is looked at, from :meth:`BatchService.now`: with every phase 0 seconds
(the default) a batch is done by the first look after its creation; :meth:`freeze` and
:meth:`advance` step through the life at will.

Answers are real: a chat line gets the completion the real-time route would give
(``plan_chat``), an embeddings line its vectors; a line the real-time route would refuse
goes to the error file with that error. Output lines come in a shuffled order (DeepInfra
promises none: clients must match ``custom_id``). :class:`BatchFault` makes a batch fail
or some of its lines fail; a download that breaks halfway is an ordinary
:class:`~deepinfra_sdk.emulator.Fault` (``drop="after_events"``) on the content route.
"""

from __future__ import annotations

import itertools
import json
import random
import threading
import time
from dataclasses import dataclass, field
from typing import IO, Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from ._chat import plan_chat
from ._embeddings import embeddings_response
from ._errors import APIError, openai_error
from ._ids import new_id

__all__ = [
    "BATCH_ENDPOINTS",
    "MAX_FILE_BYTES",
    "MAX_INPUT_BYTES",
    "MAX_LINES",
    "BatchFault",
    "BatchService",
]

MAX_LINES = 50_000
MAX_INPUT_BYTES = 200 * 1024 * 1024
MAX_FILE_BYTES = 512 * 1024 * 1024
MAX_METADATA_PAIRS = 16
WINDOW_SECONDS = 24 * 3600
BATCH_ENDPOINTS = ("/v1/chat/completions", "/v1/embeddings")
_PHASES = ("validating", "in_progress", "finalizing", "cancelling")
_TERMINAL = ("completed", "failed", "expired", "cancelled")
_FILE_EXPIRY = 30 * 24 * 3600


@dataclass
class BatchFault:
    """How the next batch created goes wrong (queued with :meth:`BatchService.inject`)."""

    fail: Optional[str] = None
    """Fail validation with this message (as a file breaking the rules would)."""
    failed_ids: Sequence[str] = ()
    """``custom_id`` values whose lines fail with a server error (a partial failure)."""
    fail_every: int = 0
    """Also fail every ``fail_every``-th line (1-based), when not 0."""


@dataclass
class _File:
    id: str
    filename: str
    purpose: str
    body: Union[bytes, IO[bytes]]  # an upload stays in its spool file (on disk)
    size: int
    created_at: int
    expires_at: Optional[int]
    seq: int

    @property
    def data(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        self.body.seek(0)
        return self.body.read()

    def drop(self) -> None:
        if not isinstance(self.body, bytes):
            self.body.close()

    def wire(self) -> Dict[str, Any]:
        return {
            "id": self.id,
            "object": "file",
            "bytes": self.size,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "filename": self.filename,
            "purpose": self.purpose,
        }


@dataclass
class _Batch:
    id: str
    input_file_id: str
    endpoint: str
    metadata: Dict[str, str]
    created: float
    phases: Dict[str, float]
    seq: int
    lines: List[Tuple[str, Dict[str, Any]]] = field(default_factory=list)
    model: Optional[str] = None
    errors: Optional[List[Dict[str, Any]]] = None
    fault: BatchFault = field(default_factory=BatchFault)
    status: str = "validating"
    stamps: Dict[str, int] = field(default_factory=dict)
    cancel_at: Optional[float] = None
    output_file_id: Optional[str] = None
    error_file_id: Optional[str] = None
    counts: Optional[Dict[str, int]] = None
    usage: Optional[Dict[str, Any]] = None

    def wire(self) -> Dict[str, Any]:
        stamp = self.stamps.get
        return {
            "id": self.id,
            "object": "batch",
            "endpoint": self.endpoint,
            "errors": None if self.errors is None else {"object": "list", "data": self.errors},
            "input_file_id": self.input_file_id,
            "completion_window": "24h",
            "status": self.status,
            "output_file_id": self.output_file_id,
            "error_file_id": self.error_file_id,
            "created_at": int(self.created),
            "in_progress_at": stamp("in_progress_at"),
            "expires_at": int(self.created) + WINDOW_SECONDS,
            "finalizing_at": stamp("finalizing_at"),
            "completed_at": stamp("completed_at"),
            "failed_at": stamp("failed_at"),
            "expired_at": stamp("expired_at"),
            "cancelling_at": stamp("cancelling_at"),
            "cancelled_at": stamp("cancelled_at"),
            "request_counts": self.counts,
            "metadata": self.metadata,
            "model": self.model,
            "usage": self.usage,
        }


def _line_error(line: int, code: str, message: str, param: Optional[str] = None) -> Dict[str, Any]:
    return {"code": code, "line": line, "message": message, "param": param}


def _parse_lines(
    data: bytes, endpoint: str
) -> Tuple[List[Tuple[str, Dict[str, Any]]], Optional[str], List[Dict[str, Any]]]:
    """The lines of an input file as ``(custom_id, body)``, its model, and its errors."""
    lines: List[Tuple[str, Dict[str, Any]]] = []
    errors: List[Dict[str, Any]] = []
    seen = set()
    model: Optional[str] = None
    for number, raw in enumerate(data.splitlines(), 1):
        if not raw.strip():
            continue
        if len(lines) >= MAX_LINES:
            message = f"input file has more than {MAX_LINES} requests"
            return [], None, [_line_error(number, "too_many_requests", message)]
        try:
            item = json.loads(raw)
        except ValueError:
            errors.append(_line_error(number, "invalid_json_line", "line is not valid JSON"))
            continue
        if not isinstance(item, dict):
            errors.append(_line_error(number, "invalid_json_line", "line is not a JSON object"))
            continue
        custom_id = item.get("custom_id")
        body = item.get("body")
        if not isinstance(custom_id, str) or not custom_id:
            errors.append(_line_error(number, "missing_required_parameter", "", "custom_id"))
            errors[-1]["message"] = "custom_id is required (a non-empty string)"
        elif custom_id in seen:
            message = f"custom_id {custom_id!r} is used by an earlier line"
            errors.append(_line_error(number, "duplicate_custom_id", message, "custom_id"))
        elif item.get("method") != "POST":
            message = f"method must be 'POST', not {item.get('method')!r}"
            errors.append(_line_error(number, "invalid_method", message, "method"))
        elif item.get("url") != endpoint:
            message = f"url {item.get('url')!r} does not match the batch endpoint {endpoint!r}"
            errors.append(_line_error(number, "invalid_url", message, "url"))
        elif not isinstance(body, dict):
            message = "body must be a JSON object (the real-time request)"
            errors.append(_line_error(number, "missing_required_parameter", message, "body"))
        elif model is not None and body.get("model") != model:
            message = f"every line must use one model: {body.get('model')!r} after {model!r}"
            errors.append(_line_error(number, "mismatched_model", message, "body.model"))
        else:
            seen.add(custom_id)
            model = model if model is not None else str(body.get("model"))
            lines.append((custom_id, body))
    if not lines and not errors:
        errors.append(_line_error(0, "empty_file", "the input file has no requests"))
    return lines, model, errors


def _error_of(error: APIError) -> Dict[str, Any]:
    payload = error.payload if isinstance(error.payload, dict) else {}
    inner = payload.get("error")
    detail = payload.get("detail")
    if isinstance(inner, dict):
        message = str(inner.get("message"))
        code = inner.get("code") or inner.get("type") or "invalid_request"
    elif isinstance(detail, list) and detail and isinstance(detail[0], dict):
        message = f"{detail[0].get('msg')} at {'.'.join(map(str, detail[0].get('loc', ())))}"
        code = "invalid_request"
    else:
        message, code = str(inner or detail or error), "invalid_request"
    return {"code": str(code), "message": message}


class BatchService:
    """The files and batches of one emulator: thread-safe, and scriptable by tests.

    ``phases`` gives the seconds each phase lasts (``validating``, ``in_progress``,
    ``finalizing``, ``cancelling``); a batch keeps the phases it was created with.
    """

    def __init__(self, answer_tokens: Callable[[], int]) -> None:
        self._answer_tokens = answer_tokens
        self._lock = threading.RLock()
        self._files: Dict[str, _File] = {}
        self._batches: Dict[str, _Batch] = {}
        self._faults: List[BatchFault] = []
        self._seq = itertools.count()
        self._frozen: Optional[float] = None
        self._offset = 0.0
        self.phases: Dict[str, float] = dict.fromkeys(_PHASES, 0.0)
        self.uploads = 0
        """Files uploaded (``POST /files`` that stored a file) since start."""

    # -- the clock ---------------------------------------------------------------------------

    def now(self) -> float:
        """The service's time: the wall clock, moved by :meth:`advance`, or frozen."""
        with self._lock:
            if self._frozen is not None:
                return self._frozen
            return time.time() + self._offset

    def freeze(self) -> None:
        """Stop the clock where it is: nothing changes until :meth:`advance`."""
        with self._lock:
            self._frozen = self.now()

    def advance(self, seconds: float) -> None:
        """Move the clock forward (frozen or not)."""
        with self._lock:
            if self._frozen is not None:
                self._frozen += seconds
            else:
                self._offset += seconds

    def set_phases(self, **seconds: float) -> None:
        """Set how long phases of batches created from now on last, e.g.
        ``set_phases(in_progress=60)``."""
        for name, value in seconds.items():
            if name not in _PHASES or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"phases are {', '.join(_PHASES)} in seconds >= 0, not {name}")
        with self._lock:
            self.phases.update(seconds)

    def inject(self, fault: BatchFault, *, times: int = 1) -> None:
        """Give ``fault`` to the next ``times`` batches created."""
        with self._lock:
            self._faults.extend([fault] * times)

    # -- what tests look at --------------------------------------------------------------------

    def file_ids(self, purpose: Optional[str] = None) -> List[str]:
        """The ids of the files held, oldest first (only ``purpose`` ones, if given)."""
        with self._lock:
            files = sorted(self._files.values(), key=lambda f: f.seq)
            return [f.id for f in files if purpose is None or f.purpose == purpose]

    def batch_ids(self) -> List[str]:
        """The ids of the batches created, oldest first."""
        with self._lock:
            return [b.id for b in sorted(self._batches.values(), key=lambda b: b.seq)]

    def file_data(self, file_id: str) -> bytes:
        """A held file's bytes (KeyError if unknown)."""
        with self._lock:
            return self._files[file_id].data

    def close(self) -> None:
        """Drop every file held (uploads are spool files on disk)."""
        with self._lock:
            for item in self._files.values():
                item.drop()
            self._files.clear()

    # -- files -------------------------------------------------------------------------------

    def add_file(
        self,
        data: Union[bytes, IO[bytes]],
        filename: str,
        purpose: str,
        expires_seconds: Optional[int] = None,
    ) -> Dict[str, Any]:
        """Store an uploaded file (its bytes, or a binary file the service then owns and
        closes); its FileObject."""
        try:
            if purpose != "batch":
                raise openai_error(
                    400, f"purpose must be 'batch', not {purpose!r}", param="purpose"
                )
            size = len(data) if isinstance(data, bytes) else data.seek(0, 2)
            if size > MAX_FILE_BYTES:
                raise openai_error(413, "file is over the 512 MB limit", param="file")
            if expires_seconds is not None and not 3600 <= expires_seconds <= 2592000:
                raise openai_error(
                    400,
                    "expires_after[seconds] must be within 3600..2592000",
                    param="expires_after",
                )
        except APIError:
            if not isinstance(data, bytes):
                data.close()
            raise
        with self._lock:
            self.uploads += 1
            expires = expires_seconds or _FILE_EXPIRY
            return self._store(data, filename, purpose, expires, size).wire()

    def _store(
        self, data: Union[bytes, IO[bytes]], filename: str, purpose: str, expires: int, size: int
    ) -> _File:
        now = int(self.now())
        item = _File(
            new_id("file_", 24), filename, purpose, data, size, now, now + expires, next(self._seq)
        )
        self._files[item.id] = item
        return item

    def _file(self, file_id: str) -> _File:
        item = self._files.get(file_id)
        if item is None:
            raise openai_error(404, f"No such File object: {file_id}", param="id")
        return item

    def get_file(self, file_id: str) -> Dict[str, Any]:
        """A FileObject."""
        with self._lock:
            return self._file(file_id).wire()

    def delete_file(self, file_id: str) -> Dict[str, Any]:
        """Delete a file."""
        with self._lock:
            self._file(file_id)
            self._files.pop(file_id).drop()
        return {"id": file_id, "object": "file", "deleted": True}

    def file_content(self, file_id: str) -> bytes:
        """A file's bytes."""
        with self._lock:
            return self._file(file_id).data

    def list_files(self, query: Dict[str, str]) -> Dict[str, Any]:
        """``GET /files``: a page after ``after``, in ``order``, of ``purpose`` files."""
        purpose = query.get("purpose")
        with self._lock:
            files = [f for f in self._files.values() if purpose is None or f.purpose == purpose]
            return _page(files, query, default=10000, most=10000, wire=_File.wire)

    # -- batches -----------------------------------------------------------------------------

    def create_batch(self, body: Dict[str, Any]) -> Dict[str, Any]:
        """``POST /batches``: checks the request; the lines are checked while validating."""
        input_file_id = body.get("input_file_id")
        endpoint = body.get("endpoint")
        if not isinstance(input_file_id, str):
            raise openai_error(400, "input_file_id is required", param="input_file_id")
        if endpoint not in BATCH_ENDPOINTS:
            raise openai_error(
                400,
                f"endpoint must be one of {', '.join(BATCH_ENDPOINTS)}, not {endpoint!r}",
                param="endpoint",
            )
        if body.get("completion_window") != "24h":
            raise openai_error(400, "completion_window must be '24h'", param="completion_window")
        metadata = body.get("metadata") or {}
        if not isinstance(metadata, dict) or len(metadata) > MAX_METADATA_PAIRS:
            raise openai_error(400, "metadata holds at most 16 pairs", param="metadata")
        for key, value in metadata.items():
            if len(key) > 64 or not isinstance(value, str) or len(value) > 512:
                raise openai_error(
                    400, "metadata keys are at most 64 characters, values 512", param="metadata"
                )
        with self._lock:
            source = self._file(input_file_id)
            if source.purpose != "batch":
                raise openai_error(400, "the input file's purpose is not 'batch'")
            batch = _Batch(
                new_id("batch_", 24),
                input_file_id,
                endpoint,
                dict(metadata),
                self.now(),
                dict(self.phases),
                next(self._seq),
            )
            batch.fault = self._faults.pop(0) if self._faults else BatchFault()
            if source.size > MAX_INPUT_BYTES:  # refused on its size: not read into memory
                batch.lines, batch.model = [], None
                errors = [_line_error(0, "file_too_large", "input file over 200 MB")]
            else:
                batch.lines, batch.model, errors = _parse_lines(source.data, endpoint)
            if batch.fault.fail:
                errors = [_line_error(0, "batch_failed", batch.fault.fail)]
            batch.errors = errors or None
            self._batches[batch.id] = batch
            return batch.wire()

    def _batch(self, batch_id: str) -> _Batch:
        batch = self._batches.get(batch_id)
        if batch is None:
            raise openai_error(404, f"No such Batch object: {batch_id}", param="id")
        self._tick(batch)
        return batch

    def get_batch(self, batch_id: str) -> Dict[str, Any]:
        """A Batch, brought up to date."""
        with self._lock:
            return self._batch(batch_id).wire()

    def cancel_batch(self, batch_id: str) -> Dict[str, Any]:
        """``POST /batches/{id}/cancel``: ``cancelling``, then ``cancelled``."""
        with self._lock:
            batch = self._batch(batch_id)
            if batch.status in _TERMINAL:
                raise openai_error(
                    409, f"Cannot cancel a batch with status {batch.status!r}", param="id"
                )
            if batch.cancel_at is None:
                batch.cancel_at = self.now()
                batch.status = "cancelling"
                batch.stamps["cancelling_at"] = int(batch.cancel_at)
            self._tick(batch)
            return batch.wire()

    def list_batches(self, query: Dict[str, str]) -> Dict[str, Any]:
        """``GET /batches``: newest first, 20 a page unless ``limit`` says otherwise."""
        with self._lock:
            batches = list(self._batches.values())
            for batch in batches:
                self._tick(batch)
            return _page(batches, query, default=20, most=100, wire=_Batch.wire, order="desc")

    # -- a batch's life ------------------------------------------------------------------------

    def _tick(self, batch: _Batch) -> None:
        """Bring ``batch`` up to :meth:`now`."""
        if batch.status in _TERMINAL:
            return
        now = self.now()
        phases = batch.phases
        started = batch.created + phases["validating"]
        finalizing = started + phases["in_progress"]
        done = finalizing + phases["finalizing"]
        expires = batch.created + WINDOW_SECONDS
        if batch.cancel_at is not None:
            if now >= batch.cancel_at + phases["cancelling"]:
                self._finish(batch, "cancelled", batch.cancel_at + phases["cancelling"])
            return
        if now < started:
            return
        if batch.errors is not None:
            self._finish(batch, "failed", started)
            return
        batch.status = "in_progress"
        batch.stamps.setdefault("in_progress_at", int(started))
        if expires < finalizing and now >= expires:
            self._finish(batch, "expired", expires)
            return
        if now < finalizing:
            batch.counts = {
                "total": len(batch.lines),
                "completed": self._done(batch, now),
                "failed": 0,
            }
            return
        batch.status = "finalizing"
        batch.stamps.setdefault("finalizing_at", int(finalizing))
        batch.counts = {"total": len(batch.lines), "completed": len(batch.lines), "failed": 0}
        if now >= done:
            self._finish(batch, "completed", done)

    def _done(self, batch: _Batch, at: float) -> int:
        """How many lines were answered by ``at``: an even pace over ``in_progress``."""
        started = batch.created + batch.phases["validating"]
        span = batch.phases["in_progress"]
        if span <= 0 or at >= started + span:
            return len(batch.lines) if at >= started else 0
        return max(0, int(len(batch.lines) * (at - started) / span))

    def _finish(self, batch: _Batch, status: str, at: float) -> None:
        batch.status = status
        batch.stamps[f"{status}_at"] = int(at)
        if status == "failed":
            return
        answered = len(batch.lines) if status == "completed" else self._done(batch, at)
        if status == "cancelled" and batch.stamps.get("in_progress_at") is None:
            answered = 0
        out: List[bytes] = []
        err: List[bytes] = []
        tokens = {"input_tokens": 0, "output_tokens": 0}
        fault = batch.fault
        failed = set(fault.failed_ids)
        stem = new_id("", 18)
        for index, (custom_id, body) in enumerate(batch.lines):
            # Ids unique per line without a random draw each (a batch has 50,000 lines).
            line: Dict[str, Any] = {"id": f"batch_req_{stem}{index:06d}", "custom_id": custom_id}
            if index >= answered:
                code = "batch_expired" if status == "expired" else "batch_cancelled"
                line.update(response=None, error={"code": code, "message": f"request {status}"})
                err.append(_dump(line))
                continue
            try:
                if custom_id in failed or (
                    fault.fail_every and (index + 1) % fault.fail_every == 0
                ):
                    raise openai_error(500, "Internal Server Error")
                answer = self._answer(batch.endpoint, body)
            except APIError as error:
                line.update(response=None, error=_error_of(error))
                err.append(_dump(line))
                continue
            usage = answer.get("usage") or {}
            tokens["input_tokens"] += int(usage.get("prompt_tokens") or 0)
            tokens["output_tokens"] += int(usage.get("completion_tokens") or 0)
            response = {"status_code": 200, "request_id": f"{stem}{index:06d}", "body": answer}
            line.update(response=response, error=None)
            out.append(_dump(line))
        # DeepInfra promises no order: shuffle, so clients must match custom_id.
        random.Random(batch.id).shuffle(out)
        batch.counts = {"total": len(batch.lines), "completed": len(out), "failed": len(err)}
        batch.usage = {**tokens, "total_tokens": tokens["input_tokens"] + tokens["output_tokens"]}
        expiry = _FILE_EXPIRY
        if out:
            name = f"{batch.id}_output.jsonl"
            data = b"".join(out)
            batch.output_file_id = self._store(data, name, "batch-output", expiry, len(data)).id
        if err:
            name = f"{batch.id}_error.jsonl"
            data = b"".join(err)
            batch.error_file_id = self._store(data, name, "batch-output", expiry, len(data)).id

    def _answer(self, endpoint: str, body: Dict[str, Any]) -> Dict[str, Any]:
        if endpoint == "/v1/embeddings":
            return embeddings_response(body)
        if body.get("stream"):
            raise openai_error(400, "stream is not supported in a batch", param="stream")
        return plan_chat(body, self._answer_tokens()).completion()


def _dump(line: Dict[str, Any]) -> bytes:
    return json.dumps(line, separators=(",", ":")).encode("utf-8") + b"\n"


def _page(
    items: List[Any],
    query: Dict[str, str],
    *,
    default: int,
    most: int,
    wire: Callable[[Any], Dict[str, Any]],
    order: Optional[str] = None,
) -> Dict[str, Any]:
    """One page of a list route: ``after`` an id, ``limit`` items, in ``order``."""
    order = query.get("order", order or "desc")
    if order not in ("asc", "desc"):
        raise openai_error(400, f"order must be 'asc' or 'desc', not {order!r}", param="order")
    try:
        limit = int(query.get("limit", default))
    except ValueError:
        limit = -1
    if not 1 <= limit <= most:
        raise openai_error(400, f"limit must be within 1..{most}", param="limit")
    ordered = sorted(items, key=lambda item: item.seq, reverse=order == "desc")
    after = query.get("after")
    if after is not None:
        ids = [item.id for item in ordered]
        if after not in ids:
            raise openai_error(400, f"after names no listed object: {after!r}", param="after")
        ordered = ordered[ids.index(after) + 1 :]
    page = [wire(item) for item in ordered[:limit]]
    return {
        "object": "list",
        "data": page,
        "first_id": page[0]["id"] if page else None,
        "last_id": page[-1]["id"] if page else None,
        "has_more": len(ordered) > limit,
    }
