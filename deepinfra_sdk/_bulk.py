"""The resumable bulk runner behind ``client.batches.run()`` and ``deepinfra batch``.

A run goes through five steps, each of which a rerun with the same ``state`` file skips or
finishes, so that killing the process at any point loses nothing and pays for nothing twice:

1. **write**: the requests become JSONL chunk files in a temporary directory, one model per
   chunk and at most 50,000 lines / 200 MB each, and an on-disk index (sqlite) of
   ``custom_id -> position, request``. The chunks' sizes and digests go in the state file;
   a rerun with different requests is refused.
2. **upload**: each chunk is uploaded under the name ``<run id>-<n>.jsonl``. The state says
   ``uploading`` *before* the POST, so a rerun that finds the flag without a file id looks
   the file up by that name instead of uploading it again.
3. **create**: likewise, ``creating`` is recorded before each batch is created with the run
   id and chunk number in its ``metadata``; a rerun looks such a batch up by them.
4. **poll**: every ``poll_interval`` seconds until every batch is done, with progress.
5. **collect**: as soon as a batch is done, its output and error files are downloaded to
   disk (a broken download is fetched again), and each line's result is stored in the
   index under its ``custom_id``; results are then read back in input order (Ctrl-C hands
   back those collected so far in ``BatchInterrupted.result``).

Every id is written to the state file (atomically) as soon as the server returns it.
Memory holds one chunk's write buffer and one result at a time, whatever the run's size.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import json
import os
import pathlib
import secrets
import sqlite3
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import SimpleNamespace
from typing import IO, TYPE_CHECKING, Any, Optional, Union

from . import _constants as C
from ._batch import (
    BatchCancelled,
    BatchInterrupted,
    BatchItem,
    BatchProgress,
    BatchResult,
    ProgressOption,
    _reporter,
)
from ._bulk_types import Batch
from ._chat_options import check_chat_options
from ._exceptions import (
    APIConnectionError,
    APIError,
    APIResponseTooLargeError,
    APIResponseValidationError,
    APITimeoutError,
    ArgumentTypeError,
    ArgumentValueError,
    status_error_class,
)
from ._files import atomic_write
from ._keywords import suggest_keyword
from ._polling import poll
from ._validation import check_messages, check_model_name
from .resources._base import stamp_request_id
from .types import ChatCompletion

if TYPE_CHECKING:
    from .client import DeepInfraClient

__all__ = ["BatchRequestError", "BulkRun"]

_FORMAT = 1
_ENDPOINT = "/v1/chat/completions"
_RUN_KEY = "deepinfra_sdk_run"
_CHUNK_KEY = "deepinfra_sdk_chunk"
_DOWNLOAD_ATTEMPTS = 3
_INSERT_EVERY = 2000
_UPDATE = "UPDATE items SET result = ? WHERE custom_id = ?"
# create() keywords that shape the HTTP call, not the request body.
_CALL_OPTIONS = ("timeout", "extra_headers", "max_retries")


class BatchRequestError(APIError):
    """A request of a batch did not get an answer: its line in the batch's error file, or
    no line at all (the batch failed, expired or was cancelled before reaching it).

    ``code`` is the error code the server gave (``None`` if none); ``custom_id`` names the
    request; ``batch_id`` the batch.
    """

    def __init__(
        self,
        message: str,
        *,
        code: Optional[str] = None,
        custom_id: Optional[str] = None,
        batch_id: Optional[str] = None,
        body: Any = None,
    ) -> None:
        super().__init__(message, body=body)
        self.code = code
        self.custom_id = custom_id
        self.batch_id = batch_id


@functools.lru_cache(maxsize=1)
def _create_keywords() -> frozenset[str]:
    """The keywords ``chat.completions.create()`` takes."""
    from .resources.chat import Completions

    params = inspect.signature(Completions.create).parameters
    return frozenset(name for name in params if name != "self")


def _chat_body(request: Mapping[str, Any], index: int) -> dict[str, Any]:
    """The JSON body ``chat.completions.create(**request)`` would send."""
    if not isinstance(request, Mapping):
        raise ArgumentTypeError(
            f"request {index} is a {type(request).__name__}; each request must be a dict of "
            "chat.completions.create() arguments, or a (custom_id, dict) pair"
        )
    if request.get("stream"):
        raise ArgumentValueError(f"request {index} asks for stream=True: a batch has no streams")
    valid = _create_keywords()
    unknown = [key for key in request if key not in valid]
    if unknown:
        raise ArgumentTypeError(
            f"request {index} has {unknown[0]!r}, which create() does not take: "
            f"{suggest_keyword(unknown[0], valid)}"
        )
    options = [key for key in _CALL_OPTIONS if request.get(key) is not None]
    if options:
        raise ArgumentValueError(
            f"request {index} sets {options[0]!r}, an option of the call, not of the request: "
            "a batched request runs on DeepInfra's side; set timeouts and retries on the client"
        )
    params = {k: v for k, v in request.items() if k not in _CALL_OPTIONS}
    model = params.pop("model", None)
    if not isinstance(model, str) or not model.strip():
        raise ArgumentValueError(f"request {index} has no 'model'")
    check_model_name(model)
    if "messages" not in params:
        raise ArgumentValueError(f"request {index} has no 'messages'")
    messages = check_messages(params.pop("messages"))
    extra = params.pop("extra_body", None) or {}
    params.pop("stream", None)
    return {"model": model, "messages": messages, **check_chat_options(params), **extra}


class _Chunk:
    """One batch's worth of lines, written to a temporary file."""

    def __init__(self, index: int, model: str, path: pathlib.Path) -> None:
        self.index = index
        self.model = model
        self.path = path
        self.lines = 0
        self.bytes = 0
        self._digest = hashlib.sha256()
        self._file: Optional[IO[bytes]] = open(path, "wb")  # noqa: SIM115 - closed in close()

    def fits(self, size: int) -> bool:
        return self.lines < C.BATCH_MAX_LINES and self.bytes + size <= C.BATCH_MAX_INPUT_BYTES

    def add(self, line: bytes) -> None:
        assert self._file is not None
        self._file.write(line)
        self._digest.update(line)
        self.lines += 1
        self.bytes += len(line)

    def close(self) -> dict[str, Any]:
        if self._file is not None:
            self._file.close()
            self._file = None
        return {
            "name": self.path.name,
            "model": self.model,
            "lines": self.lines,
            "bytes": self.bytes,
            "sha256": self._digest.hexdigest(),
        }


def _error_from_line(line: Mapping[str, Any], batch_id: str) -> Exception:
    custom_id = line.get("custom_id")
    response = line.get("response")
    if isinstance(response, Mapping) and isinstance(response.get("status_code"), int):
        from ._error_body import error_message

        body = response.get("body")
        status = response["status_code"]
        message = error_message(body) or f"the request failed with HTTP {status}"
        return status_error_class(status)(
            message, status_code=status, body=body, request_id=response.get("request_id")
        )
    error = line.get("error")
    if not isinstance(error, Mapping):
        error = {}
    return BatchRequestError(
        str(error.get("message") or "the request failed"),
        code=error.get("code"),
        custom_id=custom_id,
        batch_id=batch_id,
        body=dict(line),
    )


def _result_line(raw: bytes, file_id: str) -> Mapping[str, Any]:
    """One line of a results file; a line that is not a JSON object is a typed error."""
    try:
        line = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        line = None
    if not isinstance(line, Mapping):
        raise APIResponseValidationError(
            f"file {file_id}: a results line is not a JSON object (or nests too deeply): "
            f"{raw[:200]!r}"
        )
    return line


def _unanswered(batch: Batch) -> Exception:
    """The error of a request with no line in its batch's files."""
    if batch.status == "failed":
        details = "; ".join(
            f"line {e.line}: {e.message}" for e in (batch.errors.data if batch.errors else [])
        )
        return BatchRequestError(
            f"batch {batch.id} failed validation: {details or 'no details given'}",
            code="batch_failed",
            batch_id=batch.id,
        )
    if batch.status in ("expired", "cancelled"):
        return BatchCancelled(f"batch {batch.id} ended {batch.status} before this request ran")
    return BatchRequestError(
        f"batch {batch.id} ({batch.status}) holds no result for this request", batch_id=batch.id
    )


class BulkRun:
    """One run of requests through the Batch API, recorded in a state file."""

    def __init__(
        self,
        client: DeepInfraClient,
        state: Union[str, os.PathLike[str]],
        *,
        poll_interval: float = C.BATCH_POLL_INTERVAL,
        progress: ProgressOption = True,
    ) -> None:
        if not isinstance(state, (str, os.PathLike)):
            raise ArgumentTypeError(f"state must be a file path, not {type(state).__name__}")
        self._client = client
        self.path = pathlib.Path(state)
        self.poll_interval = poll_interval
        self.progress = progress
        self.state: dict[str, Any] = self._load()

    # -- the state file ----------------------------------------------------------------------

    def _load(self) -> dict[str, Any]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        try:
            state = json.loads(text)
        except ValueError as exc:
            raise ArgumentValueError(
                f"{self.path} is not a batch run's state file: {exc}"
            ) from None
        chunks = state.get("chunks") if isinstance(state, dict) else None
        if (
            not isinstance(state, dict)
            or state.get("format") != _FORMAT
            or not isinstance(state.get("run_id"), str)
            or not isinstance(chunks, list)
            or not all(isinstance(c, dict) and isinstance(c.get("name"), str) for c in chunks)
        ):
            raise ArgumentValueError(
                f"{self.path} is not a batch run's state file (format {_FORMAT}, a run id "
                "and its batches): pass the state file of the run, or a new path for a new run"
            )
        return state

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the state file for one run at a time (two at once would both upload and
        create), through an advisory lock on ``<state>.lock`` that the system releases
        when the process dies, so a killed run never blocks its resume. The state is read
        again once held."""
        try:
            import fcntl
        except ImportError:  # Windows: no flock; one run per state file is the caller's care
            yield
            return
        fd = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT, 0o666)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ArgumentValueError(
                    f"{self.path} is in use by another run (in another process, or a loop "
                    "over its results not finished yet): let it finish, or stop it first"
                ) from None
            self.state = self._load()
            yield
        finally:
            os.close(fd)

    def _save(self) -> None:
        data = json.dumps(self.state, indent=1, sort_keys=True).encode()
        atomic_write(self.path, data)

    @property
    def run_id(self) -> str:
        """The id written into every batch's metadata."""
        return str(self.state.get("run_id", ""))

    @property
    def chunks(self) -> list[dict[str, Any]]:
        """The recorded batches: name, model, lines, file id, batch id, status."""
        return list(self.state.get("chunks", []))

    # -- 1. write ----------------------------------------------------------------------------

    def _write(self, requests: Iterable[Any], workdir: pathlib.Path) -> sqlite3.Connection:
        """The chunk files and the index; the chunks checked against (or recorded in) state."""
        if isinstance(requests, (str, bytes, Mapping)):
            raise ArgumentTypeError(
                "requests must be an iterable of dicts (or (custom_id, dict) pairs)"
            )
        run_id = self.state.get("run_id") or secrets.token_hex(8)
        index = sqlite3.connect(str(workdir / "index.sqlite"), isolation_level=None)
        index.execute("PRAGMA journal_mode=OFF")
        index.execute("PRAGMA synchronous=OFF")
        index.execute(
            "CREATE TABLE items (idx INTEGER PRIMARY KEY, custom_id TEXT UNIQUE NOT NULL, "
            "request TEXT NOT NULL, chunk INTEGER NOT NULL, result TEXT)"
        )
        try:
            described = self._fill(requests, workdir, run_id, index)
        except BaseException:
            index.close()
            raise
        total = sum(c["lines"] for c in described)
        if not self.state:
            self.state = {
                "format": _FORMAT,
                "run_id": run_id,
                "requests": total,
                "chunks": described,
            }
            self._save()
        else:
            recorded = [
                {k: c.get(k) for k in ("name", "model", "lines", "bytes", "sha256")}
                for c in self.state.get("chunks", [])
            ]
            if recorded != described:
                index.close()
                raise ArgumentValueError(
                    f"these requests are not the ones {self.path} recorded (run "
                    f"{run_id}: {self.state.get('requests')} requests in {len(recorded)} "
                    f"batches): pass the same requests in the same order to resume, or use a "
                    "new state file for a new run"
                )
        return index

    def _fill(
        self,
        requests: Iterable[Any],
        workdir: pathlib.Path,
        run_id: str,
        index: sqlite3.Connection,
    ) -> list[dict[str, Any]]:
        """Stream the requests into chunk files (one open per model) and the index."""
        open_chunks: dict[str, _Chunk] = {}
        described: list[tuple[int, dict[str, Any]]] = []
        created = 0
        rows: list[tuple[int, str, str, int]] = []
        index.execute("BEGIN")
        try:
            for position, item in enumerate(requests):
                if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
                    custom_id, request = item
                else:
                    custom_id, request = str(position), item
                body = _chat_body(request, position)
                line = json.dumps(
                    {"custom_id": custom_id, "method": "POST", "url": _ENDPOINT, "body": body},
                    separators=(",", ":"),
                    ensure_ascii=False,
                ).encode("utf-8")
                chunk = open_chunks.get(body["model"])
                if chunk is None or not chunk.fits(len(line) + 1):
                    if chunk is not None:  # full: its file is done
                        described.append((chunk.index, chunk.close()))
                    path = workdir / f"{run_id}-{created}.jsonl"
                    chunk = open_chunks[body["model"]] = _Chunk(created, body["model"], path)
                    created += 1
                chunk.add(line + b"\n")
                request_json = json.dumps(dict(request), default=repr)
                rows.append((position, custom_id, request_json, chunk.index))
                if len(rows) >= _INSERT_EVERY:
                    self._insert(index, rows)
            self._insert(index, rows)
            index.execute("COMMIT")
        finally:
            described += [(chunk.index, chunk.close()) for chunk in open_chunks.values()]
        return [description for _, description in sorted(described, key=lambda d: d[0])]

    @staticmethod
    def _insert(index: sqlite3.Connection, rows: list[tuple[int, str, str, int]]) -> None:
        try:
            index.executemany(
                "INSERT INTO items (idx, custom_id, request, chunk) VALUES (?, ?, ?, ?)", rows
            )
        except sqlite3.IntegrityError:
            # The first row whose id is already taken by another position.
            find = "SELECT idx FROM items WHERE custom_id = ?"
            clash = next(r for r in rows if index.execute(find, (r[1],)).fetchone()[0] != r[0])
            raise ArgumentValueError(
                f"custom_id {clash[1]!r} (request {clash[0]}) is used twice: custom ids must "
                "be unique"
            ) from None
        rows.clear()

    # -- 2. upload and 3. create -------------------------------------------------------------

    def _chunk_states(self) -> list[dict[str, Any]]:
        chunks: list[dict[str, Any]] = self.state["chunks"]
        return chunks

    def _submit(self, workdir: pathlib.Path) -> None:
        chunks = self._chunk_states()
        client = self._client
        self._recover_files()
        for chunk in chunks:
            if chunk.get("file_id"):
                continue
            chunk["uploading"] = True
            self._save()  # before the POST: a rerun looks the file up instead
            chunk["file_id"] = client.files.create(file=workdir / chunk["name"]).id
            self._save()
        self._recover_batches()
        for number, chunk in enumerate(chunks):
            if chunk.get("batch_id"):
                continue
            chunk["creating"] = True
            self._save()  # before the POST: a rerun looks the batch up instead
            batch = client.batches.create(
                input_file_id=chunk["file_id"],
                endpoint=_ENDPOINT,
                metadata={_RUN_KEY: self.run_id, _CHUNK_KEY: str(number)},
            )
            chunk["batch_id"] = batch.id
            self._note(chunk, batch)

    def _recover_files(self) -> None:
        """Find, by name, files a killed run uploaded without recording their ids."""
        chunks = self._chunk_states()
        lost_files = [c for c in chunks if c.get("uploading") and not c.get("file_id")]
        if lost_files:
            names = {c["name"]: c for c in lost_files}
            for item in self._client.files.list(purpose="batch"):
                chunk = names.pop(item.filename, None)
                if chunk is not None:
                    chunk["file_id"] = item.id
                    self._save()
                if not names:
                    break

    def _recover_batches(self) -> None:
        """Find, by run id, batches a killed run created without recording their ids."""
        chunks = self._chunk_states()
        lost_batches = {
            str(n): c for n, c in enumerate(chunks) if c.get("creating") and not c.get("batch_id")
        }
        if lost_batches:
            for batch in self._client.batches.list(limit=100):
                metadata = batch.metadata or {}
                if metadata.get(_RUN_KEY) == self.run_id:
                    chunk = lost_batches.pop(metadata.get(_CHUNK_KEY, ""), None)
                    if chunk is not None:
                        chunk["batch_id"] = batch.id
                        self._save()
                if not lost_batches:
                    break

    def _note(self, chunk: dict[str, Any], batch: Batch) -> None:
        """Record a batch's status and result files (saved only when they changed)."""
        seen = {
            "status": batch.status,
            "output_file_id": batch.output_file_id,
            "error_file_id": batch.error_file_id,
        }
        if any(chunk.get(k) != v for k, v in seen.items()) or "status" not in chunk:
            chunk.update(seen)
            self._save()

    # -- 4. poll -----------------------------------------------------------------------------

    def _wait(self, collect: Callable[[Batch], None]) -> list[Batch]:
        """Poll until every batch is done; each one's results are collected as soon as it
        is, so that an interrupted run still hands back what finished."""
        chunks = self._chunk_states()
        total = int(self.state.get("requests", 0))
        reporter = _reporter(self.progress, total)
        latest: dict[str, Batch] = {}  # per wait: each run collects into its own index

        def fetch() -> list[Batch]:
            for chunk in chunks:
                known = latest.get(chunk["batch_id"])
                if known is None or not known.done:
                    batch = self._client.batches.retrieve(chunk["batch_id"])
                    self._note(chunk, batch)
                    if batch.done:
                        collect(batch)
                    latest[batch.id] = batch  # done only once collected
            return [latest[c["batch_id"]] for c in chunks]

        def show(batches: list[Batch]) -> None:
            done = failed = 0
            for chunk, batch in zip(chunks, batches):
                counts = batch.request_counts
                if batch.done:
                    finished = chunk["lines"]
                    lost = finished - (counts.completed if counts else 0)
                    done, failed = done + finished, failed + max(lost, 0)
                elif counts is not None:
                    done, failed = done + counts.completed + counts.failed, failed + counts.failed
            shown[0] = BatchProgress(done, failed, total)
            reporter.update(shown[0])

        shown = [BatchProgress(0, 0, total)]
        try:
            batches = poll(
                fetch,
                done=lambda batches: all(b.done for b in batches),
                interval=self.poll_interval,
                timeout=C.BATCH_WAIT_LIMIT,
                on_update=show,
            )
        finally:
            reporter.close(shown[0])
        running = [b.id for b in batches if not b.done]
        if running:
            raise APITimeoutError(
                f"{len(running)} batch(es) ({', '.join(running[:3])}) still not done after "
                f"{C.BATCH_WAIT_LIMIT / 3600:g} h, past DeepInfra's 24 h window: run again "
                f"with state={str(self.path)!r} to look again, or `deepinfra batch cancel "
                f"{self.path}`"
            )
        return batches

    # -- 5. collect --------------------------------------------------------------------------

    def _download(self, file_id: str, dest: pathlib.Path) -> None:
        for attempt in range(_DOWNLOAD_ATTEMPTS):
            try:
                self._client.files.content(file_id).save(dest)
                return
            except APIConnectionError:
                if attempt == _DOWNLOAD_ATTEMPTS - 1:
                    raise

    def _collect(self, batch: Batch, index: sqlite3.Connection, workdir: pathlib.Path) -> None:
        for file_id in (batch.output_file_id, batch.error_file_id):
            if not file_id:
                continue
            dest = workdir / f"{file_id}.jsonl"
            self._download(file_id, dest)
            rows: list[tuple[str, str]] = []
            index.execute("BEGIN")
            limit = self._client._config.max_response_bytes  # one line held at a time
            with open(dest, "rb") as results:
                for raw in iter(lambda: results.readline(limit + 1), b""):  # noqa: B023
                    if len(raw) > limit:
                        index.execute("ROLLBACK")
                        raise APIResponseTooLargeError(
                            f"file {file_id}: a results line is larger than "
                            f"max_response_bytes ({limit:,} bytes); if such answers are "
                            "expected, raise DeepInfraClient(max_response_bytes=...)"
                        )
                    if raw.strip():
                        line = _result_line(raw, file_id)
                        rows.append((raw.decode("utf-8"), str(line.get("custom_id"))))
                    if len(rows) >= _INSERT_EVERY:
                        index.executemany(_UPDATE, rows)
                        rows.clear()
            index.executemany(_UPDATE, rows)
            index.execute("COMMIT")
            dest.unlink()

    def _items(
        self, index: sqlite3.Connection, unanswered: Callable[[int], Exception]
    ) -> Iterator[BatchItem]:
        """Every request in input order with its stored result, or ``unanswered(chunk)``."""
        batch_ids = [c.get("batch_id") or "" for c in self._chunk_states()]
        rows = index.execute("SELECT idx, request, chunk, result FROM items ORDER BY idx")
        for position, request, chunk, result in rows:
            completion: Optional[ChatCompletion] = None
            error: Optional[Exception] = None
            if result is None:
                error = unanswered(chunk)
            else:
                line = json.loads(result)
                response = line.get("response")
                if isinstance(response, Mapping) and response.get("status_code") == 200:
                    completion = ChatCompletion.from_wire(response["body"])
                    stamp_request_id(completion, SimpleNamespace(**response))
                else:
                    error = _error_from_line(line, batch_ids[chunk])
            yield BatchItem(position, json.loads(request), completion, error)

    # -- the whole run -------------------------------------------------------------------------

    def submit(
        self, requests: Iterable[Any], *, source: Optional[str] = None
    ) -> list[dict[str, Any]]:
        """Write, upload and create (steps 1-3); the recorded batches. ``source``, the
        requests' file, is recorded with the run before anything is sent, so that a submit
        that stops midway is resumed from the state file alone."""
        with self._locked(), tempfile.TemporaryDirectory(prefix="deepinfra-batch-") as tmp:
            workdir = pathlib.Path(tmp)
            index = self._write(requests, workdir)
            if source is not None and self.state.get("source") != source:
                self.state["source"] = source
                self._save()
            index.close()
            self._submit(workdir)
        return self.chunks

    def results(self, requests: Iterable[Any]) -> Iterator[BatchItem]:
        """Every step; the results in input order (a generator: the run starts when it is
        first iterated)."""
        with self._locked(), tempfile.TemporaryDirectory(prefix="deepinfra-batch-") as tmp:
            workdir = pathlib.Path(tmp)
            index = self._write(requests, workdir)
            try:
                try:
                    self._submit(workdir)
                    batches = self._wait(lambda batch: self._collect(batch, index, workdir))
                except KeyboardInterrupt:
                    raise self._interrupted(index) from None
                yield from self._items(index, lambda chunk: _unanswered(batches[chunk]))
            finally:
                index.close()

    def _interrupted(self, index: sqlite3.Connection) -> BatchInterrupted:
        """What finished (the results of every batch collected so far), the rest
        :class:`BatchCancelled`, which a rerun with the same state picks up."""
        created = [c["batch_id"] for c in self.chunks if c.get("batch_id")]
        message = (
            f"interrupted: {len(created)} batch(es) keep running on DeepInfra. To resume, run "
            f"again with state={str(self.path)!r} (or `deepinfra batch results {self.path}`); "
            f"to stop them, `deepinfra batch cancel {self.path}`"
        )
        print(message, file=sys.stderr, flush=True)
        pending = BatchCancelled(
            f"interrupted before its result was collected: run again with state="
            f"{str(self.path)!r} to get it"
        )
        result = BatchResult(self._items(index, lambda _chunk: pending))
        return BatchInterrupted(result, message=message)

    # -- status and cancel ---------------------------------------------------------------------

    def status(self) -> list[Batch]:
        """Every recorded batch as it is now."""
        if self.state:
            self._recover_batches()
        return [
            self._client.batches.retrieve(c["batch_id"]) for c in self.chunks if c.get("batch_id")
        ]

    def cancel(self) -> list[Batch]:
        """Cancel every recorded batch that is still running."""
        out = []
        for seen in self.status():
            if not seen.done and seen.status != "cancelling":
                with contextlib.suppress(APIError):  # it finished meanwhile
                    seen = self._client.batches.cancel(seen.id)  # noqa: PLW2901
            out.append(seen)
        return out
