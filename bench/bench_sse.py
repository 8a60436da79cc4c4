"""Micro-benchmark of the SSE decoder (``deepinfra_sdk._sse.SSEDecoder``).

Run ``python bench/bench_sse.py`` (about 10 s) or ``python bench/bench_sse.py --quick``
(about 1 s, a CI smoke run). Each case is timed over several rounds with
``time.perf_counter`` and the median round is reported as events/s and µs/event.

Cases:
  * LF frames in 64 KiB chunks: the bulk case (a reader that fell behind, or a fast server);
  * CRLF frames in 64 KiB chunks: the framing DeepInfra has been seen to use;
  * one frame per chunk (LF and CRLF): a live stream, where each read returns one frame;
  * frames fed one byte at a time: the worst chunking (fewer events);
  * baseline: ``bytes.split(b"\\n")`` + ``startswith(b"data: ")`` on the LF stream, i.e. the
    least a line-splitting loop can do (no SSE rules, no decoding, no event objects).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, List

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from deepinfra_sdk._sse import SSEDecoder

CHUNK_SIZE = 65536


def make_frames(count: int, sep: bytes) -> List[bytes]:
    """DeepInfra-shaped chat chunk frames (~200 bytes of JSON each) plus ``[DONE]``."""
    frames = []
    for i in range(count):
        payload = {
            "id": "chatcmpl-guMTxWgpFfKzQ2dN8",
            "object": "chat.completion.chunk",
            "created": 1694623155,
            "model": "meta-llama/Llama-3.3-70B-Instruct-Turbo",
            "choices": [
                {
                    "index": 0,
                    "delta": {"role": "assistant", "content": f" token{i % 1000}"},
                    "finish_reason": None,
                    "logprobs": None,
                }
            ],
        }
        frames.append(b"data: " + json.dumps(payload).encode() + sep + sep)
    frames.append(b"data: [DONE]" + sep + sep)
    return frames


def split_every(data: bytes, size: int) -> List[bytes]:
    """``data`` cut into pieces of ``size`` bytes."""
    return [data[i : i + size] for i in range(0, len(data), size)]


def decode(chunks: List[bytes]) -> int:
    """Feed every chunk to a fresh decoder; return the number of events."""
    decoder = SSEDecoder()
    feed = decoder.feed
    count = 0
    for chunk in chunks:
        count += len(feed(chunk))
    decoder.close()
    return count


def baseline(chunks: List[bytes]) -> int:
    """The naive loop: join, split on LF, keep ``data: `` lines (no SSE semantics)."""
    count = 0
    pending = b""
    for chunk in chunks:
        lines = (pending + chunk).split(b"\n")
        pending = lines.pop()
        for line in lines:
            if line.startswith(b"data: "):
                count += 1
    return count


class Case:
    """One benchmark case: a function run over a fixed list of chunks."""

    def __init__(
        self, name: str, func: Callable[[List[bytes]], int], chunks: List[bytes], events: int
    ) -> None:
        self.name = name
        self.func = func
        self.chunks = chunks
        self.events = events
        self.times: List[float] = []
        got = func(chunks)  # warm-up, and a check that every event came out
        if got != events:
            raise SystemExit(f"{name}: expected {events} events, got {got}")

    def run_once(self) -> None:
        """Time one pass over the chunks."""
        start = time.perf_counter()
        self.func(self.chunks)
        self.times.append(time.perf_counter() - start)

    def per_event_us(self) -> float:
        """Median µs per event over the rounds run so far."""
        return statistics.median(self.times) / self.events * 1e6


def run_cases(quick: bool) -> tuple[List[Case], int, List[bytes]]:
    """Build the cases and time them in interleaved rounds: (cases, rounds, LF frames)."""
    if quick:
        bulk, live, bytewise, rounds = 5_000, 2_000, 200, 3
    else:
        bulk, live, bytewise, rounds = 200_000, 100_000, 5_000, 7

    lf = make_frames(bulk, b"\n")
    crlf = make_frames(bulk, b"\r\n")
    lf_chunks = split_every(b"".join(lf), CHUNK_SIZE)
    live_lf = make_frames(live, b"\n")
    live_crlf = make_frames(live, b"\r\n")
    byte_frames = make_frames(bytewise, b"\r\n")
    cases = [
        Case("LF frames, 64 KiB chunks", decode, lf_chunks, len(lf)),
        Case("CRLF frames, 64 KiB chunks", decode, split_every(b"".join(crlf), CHUNK_SIZE),
             len(crlf)),
        Case("LF frames, one frame per chunk", decode, live_lf, len(live_lf)),
        Case("CRLF frames, one frame per chunk", decode, live_crlf, len(live_crlf)),
        Case("CRLF frames, 1 byte per chunk", decode, split_every(b"".join(byte_frames), 1),
             len(byte_frames)),
        Case("baseline split(b'\\n')+startswith, 64 KiB", baseline, lf_chunks, len(lf)),
    ]  # fmt: skip
    # Rounds interleave the cases, so that a change in machine load hits them all alike
    # and the ratio to the baseline stays meaningful.
    for _ in range(rounds):
        for case in cases:
            case.run_once()
    return cases, rounds, lf


def main() -> None:
    """Parse arguments, run the cases, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (~1 s), for CI")
    args = parser.parse_args()
    cases, rounds, lf = run_cases(args.quick)
    print(f"Python {sys.version.split()[0]}, median of {rounds} interleaved rounds")
    print(f"frame size ~{sum(map(len, lf)) // len(lf)} bytes (LF)")
    for case in cases:
        per_event = case.per_event_us()
        print(f"{case.name:<44} {1e6 / per_event:>12,.0f} events/s {per_event:>8.3f} µs/event")
    ratio = cases[0].per_event_us() / cases[-1].per_event_us()
    print(f"decoder / baseline (LF, 64 KiB): {ratio:.2f}x the time")


if __name__ == "__main__":
    main()
