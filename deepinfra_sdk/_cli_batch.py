"""``deepinfra batch submit|status|results|cancel``: the bulk runner from a shell.

::

    deepinfra batch submit  REQUESTS.jsonl --state RUN.json   # upload and create, then exit
    deepinfra batch status  RUN.json [--json]                 # each batch's progress
    deepinfra batch results RUN.json [-o OUT.jsonl]           # wait, then results in input order
    deepinfra batch cancel  RUN.json                          # stop the run's batches

``REQUESTS.jsonl`` holds one ``chat.completions.create()`` keyword object a line
(``{"model": ..., "messages": [...]}``), optionally with its own ``"custom_id"``. The state
file records the run; ``results`` reads the requests again from the path it recorded, so
it resumes a submitted (or interrupted) run without sending anything twice.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Union

from . import _constants as C
from ._exceptions import ArgumentValueError

if TYPE_CHECKING:
    from ._bulk import BulkRun
    from .client import DeepInfraClient

__all__ = ["add_batch_parser"]


def _read_requests(path: str) -> Iterator[Union[dict[str, Any], tuple[str, dict[str, Any]]]]:
    """The requests of a JSONL file, one at a time (the file is never held whole)."""
    with open(path, encoding="utf-8") as lines:
        for number, raw in enumerate(lines, 1):
            if not raw.strip():
                continue
            try:
                request = json.loads(raw)
            except ValueError as exc:
                raise ArgumentValueError(f"{path}, line {number}: not JSON ({exc})") from None
            if not isinstance(request, dict):
                raise ArgumentValueError(
                    f"{path}, line {number}: not a JSON object of create() arguments"
                )
            custom_id = request.pop("custom_id", None)
            yield request if custom_id is None else (str(custom_id), request)


def _run(client: DeepInfraClient, args: argparse.Namespace) -> BulkRun:
    from ._bulk import BulkRun  # sqlite3 and friends: only for the batch commands

    return BulkRun(client, args.state, poll_interval=args.poll_interval, progress=True)


def _source(run: BulkRun) -> str:
    source = run.state.get("source")
    if not run.state:
        raise ArgumentValueError(f"{run.path} does not exist: start with `deepinfra batch submit`")
    if not isinstance(source, str):
        raise ArgumentValueError(
            f"{run.path} records no requests file (it was not made by this command)"
        )
    return source


def cmd_submit(args: argparse.Namespace) -> int:
    """Write, upload and create the batches, record them in the state file, and exit."""
    from .cli import _client, _out

    source = os.path.abspath(args.requests)
    with _client(args) as client:
        run = _run(client, args)
        chunks = run.submit(_read_requests(source), source=source)
    for chunk in chunks:
        _out(f"{chunk['batch_id']}  {chunk['lines']} requests  {chunk['model']}\n")
    _out(f"run {run.run_id}: follow it with `deepinfra batch status {args.state}`\n")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Print each batch of the run as the server sees it now."""
    from .cli import _client, _out, _print_json

    with _client(args) as client:
        run = _run(client, args)
        _source(run)
        batches = run.status()
    if args.json:
        _print_json([batch.to_dict() for batch in batches])
        return 0
    for batch in batches:
        counts = batch.request_counts
        done = f"{counts.completed + counts.failed}/{counts.total}" if counts else "-"
        failed = f", {counts.failed} failed" if counts and counts.failed else ""
        _out(f"{batch.id}  {batch.status:<11} {done}{failed}\n")
    return 0


def cmd_results(args: argparse.Namespace) -> int:
    """Wait for the run, then print one JSON line per request, in input order."""
    from .cli import _client

    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout  # noqa: SIM115
    try:
        with _client(args) as client:
            run = _run(client, args)
            for item in run.results(_read_requests(_source(run))):
                record = {
                    "index": item.index,
                    "completion": item.completion.to_dict() if item.completion else None,
                    "error": None if item.error is None else str(item.error),
                }
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    """Cancel the run's batches that are still running."""
    from .cli import _client, _out

    with _client(args) as client:
        run = _run(client, args)
        _source(run)
        for batch in run.cancel():
            _out(f"{batch.id}  {batch.status}\n")
    return 0


def add_batch_parser(sub: Any, api: argparse.ArgumentParser) -> None:
    """The ``batch`` command and its four subcommands."""
    batch = sub.add_parser("batch", help="run requests through the Batch API (resumable)")
    steps = batch.add_subparsers(dest="batch_command", metavar="STEP", required=True)

    def step(name: str, help_text: str, handler: Any) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = steps.add_parser(name, parents=[api], help=help_text)
        p.add_argument(
            "--poll-interval",
            type=float,
            default=C.BATCH_POLL_INTERVAL,
            metavar="SECONDS",
            help=f"seconds between status checks (default {C.BATCH_POLL_INTERVAL:g})",
        )
        p.set_defaults(handler=handler)
        return p

    p = step("submit", "upload the requests and create the batches, then exit", cmd_submit)
    p.add_argument("requests", help="a JSONL file of create() keyword objects")
    p.add_argument("--state", required=True, help="the run's state file (created)")
    p = step("status", "show each batch of a run", cmd_status)
    p.add_argument("state", help="the run's state file")
    p.add_argument("--json", action="store_true", help="print the batches as JSON")
    p = step("results", "wait for a run, then print its results in input order", cmd_results)
    p.add_argument("state", help="the run's state file")
    p.add_argument("-o", "--output", metavar="PATH", help="write the JSON lines to a file")
    p = step("cancel", "cancel a run's batches", cmd_cancel)
    p.add_argument("state", help="the run's state file")
