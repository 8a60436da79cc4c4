"""The command line: serve an emulator in the foreground until interrupted."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any, List, Optional, Sequence

from ._chat import SHAPES
from ._emulator import DEFAULT_PING_INTERVAL, Emulator
from ._faults import FRAMINGS

__all__ = ["build_parser", "main"]

_LINE_ENDINGS = {"lf": "\n", "crlf": "\r\n", "cr": "\r"}


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be within 0..65535, not {value}")
    return value


def build_parser(prog: str = "python -m deepinfra_sdk.emulator") -> argparse.ArgumentParser:
    """The argument parser (the ``deepinfra emulator`` command can reuse it)."""
    parser = argparse.ArgumentParser(
        prog=prog, description="Serve a local DeepInfra-compatible API with fault injection."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    parser.add_argument("--port", type=_port, default=8000, help="port (0: any free one)")
    parser.add_argument(
        "--token-delay", type=float, default=0.0, metavar="S", help="seconds between tokens"
    )
    parser.add_argument("--framing", choices=FRAMINGS, default="chunked", help="SSE framing")
    parser.add_argument(
        "--line-ending", choices=sorted(_LINE_ENDINGS), default="lf", help="SSE line ending"
    )
    parser.add_argument(
        "--answer-tokens", type=int, default=24, metavar="N", help="tokens per chat answer"
    )
    parser.add_argument(
        "--api-key",
        action="extend",
        nargs="+",
        dest="api_keys",
        metavar="K",
        help="accept only these keys (repeatable; default: any non-empty key)",
    )
    parser.add_argument(
        "--no-auth", action="store_true", help="serve requests without Authorization too"
    )
    parser.add_argument(
        "--any-model",
        action="store_true",
        help="serve any owner/name, not only the catalogue's models",
    )
    parser.add_argument(
        "--shapes",
        choices=SHAPES,
        default="recorded",
        help="answer shapes: as recorded from DeepInfra (default) or lean",
    )
    parser.add_argument(
        "--ping-interval",
        type=float,
        default=DEFAULT_PING_INTERVAL,
        metavar="S",
        help="idle seconds before a stream sends ': ping' (0: never; default %(default)s)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log each request on stderr")
    return parser


def main(argv: Optional[Sequence[str]] = None, *, prog: Optional[str] = None) -> int:
    """Run the emulator until Ctrl-C (or SIGTERM); return the exit status.

    ``prog`` names the command in ``--help`` (``deepinfra emulator``, say).
    """
    parser = build_parser(prog) if prog else build_parser()
    args = parser.parse_args(argv)
    try:
        emulator = Emulator(
            host=args.host,
            port=args.port,
            api_keys=args.api_keys,
            require_auth=not args.no_auth,
            token_delay=args.token_delay,
            framing=args.framing,
            line_ending=_LINE_ENDINGS[args.line_ending],
            answer_tokens=args.answer_tokens,
            verbose=args.verbose,
            shapes=args.shapes,
            ping_interval=args.ping_interval or None,
            any_model=args.any_model,
        )
        emulator.start()
    except (OSError, OverflowError, ValueError) as exc:
        print(f"error: cannot start the emulator: {exc}", file=sys.stderr)
        return 1
    done = threading.Event()
    previous: List[Any] = []
    if threading.current_thread() is threading.main_thread():
        previous.append(signal.signal(signal.SIGTERM, lambda *_: done.set()))
    print(f"DeepInfra emulator serving on {emulator.url}", flush=True)
    key = "any non-empty key" if args.api_keys is None else ", ".join(args.api_keys)
    if args.no_auth:
        key += " (or none)"
    print(f"  DEEPINFRA_BASE_URL={emulator.url}  API key: {key}", flush=True)
    print("  Ctrl-C to stop", flush=True)
    try:
        while not done.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
        if previous:
            signal.signal(signal.SIGTERM, previous[0])
    print("emulator stopped", flush=True)
    return 0
