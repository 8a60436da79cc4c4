"""Decoding cost of a chat stream chunk: ``from_wire`` against dataclasses-json and json.loads.

    python bench/bench_types.py            # a few seconds
    python bench/bench_types.py --quick    # about one second, a smoke run

Prints microseconds per chunk for each route (the best of several repeats, so background noise
inflates nothing) and the ratios that matter: how much slower dataclasses-json's ``from_dict``
is than ``from_wire``, and what ``from_wire`` adds on top of the ``json.loads`` every stream
pays anyway.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from functools import partial
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from deepinfra_sdk.types import ChatCompletionChunk

CHUNKS: dict[str, str] = {
    "content": (
        '{"id":"chatcmpl-guMTxWgpFf","object":"chat.completion.chunk","created":1694623155,'
        '"model":"meta-llama/Llama-3.3-70B-Instruct-Turbo","choices":[{"index":0,'
        '"delta":{"role":"assistant","content":" Hello"},"finish_reason":null,"logprobs":null}]}'
    ),
    "finish+usage": (
        '{"id":"chatcmpl-guMTxWgpFf","object":"chat.completion.chunk","created":1694623155,'
        '"model":"meta-llama/Llama-3.3-70B-Instruct-Turbo","choices":[{"index":0,"delta":{},'
        '"finish_reason":"stop"}],"usage":{"prompt_tokens":15,"completion_tokens":16,'
        '"total_tokens":31,"estimated_cost":0.0000268}}'
    ),
    "tool_call": (
        '{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1694623155,'
        '"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1",'
        '"type":"function","function":{"name":"get_weather","arguments":"{\\"ci"}}]},'
        '"finish_reason":null}]}'
    ),
}


def per_call_us(fn: Callable[[], Any], budget_s: float, repeats: int) -> float:
    """Best-of-``repeats`` microseconds per call, each repeat running about ``budget_s``."""
    # Calibrate a loop count that fills the budget, then time whole loops.
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        elapsed = time.perf_counter() - t0
        if elapsed >= budget_s / 10 or n >= 1 << 24:
            break
        n *= 4
    loops = max(1, int(n * budget_s / max(elapsed, 1e-9)))
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(loops):
            fn()
        best = min(best, (time.perf_counter() - t0) / loops)
    return best * 1e6


def _loads_and_decode(raw: str) -> ChatCompletionChunk:
    return ChatCompletionChunk.from_wire(json.loads(raw))


def measure(quick: bool) -> dict[str, tuple[float, float, float, float]]:
    """Per chunk kind, µs of (json.loads, from_wire, loads + from_wire, from_dict)."""
    budget, repeats = (0.02, 3) if quick else (0.2, 5)
    # The first from_dict imports dataclasses-json: keep that out of the timings.
    ChatCompletionChunk.from_dict(json.loads(CHUNKS["content"]))
    found = {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name, raw in CHUNKS.items():
            d = json.loads(raw)
            if ChatCompletionChunk.from_wire(d) != ChatCompletionChunk.from_dict(d):
                raise RuntimeError(f"{name}: from_wire and from_dict disagree")
            found[name] = (
                per_call_us(partial(json.loads, raw), budget, repeats),
                per_call_us(partial(ChatCompletionChunk.from_wire, d), budget, repeats),
                per_call_us(partial(_loads_and_decode, raw), budget, repeats),
                per_call_us(partial(ChatCompletionChunk.from_dict, d), budget / 4, repeats),
            )
    return found


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="about one second, for smoke runs")
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else 5
    print(f"Python {sys.version.split()[0]}; microseconds per chunk (best of {repeats})")
    header = (
        f"{'chunk':<14}{'json.loads':>11}{'from_wire':>11}{'loads+wire':>11}"
        f"{'from_dict':>11}{'dict/wire':>11}{'wire/loads':>11}"
    )
    print(header)
    print("-" * len(header))
    for name, (loads, wire, both, slow) in measure(args.quick).items():
        print(
            f"{name:<14}{loads:>11.2f}{wire:>11.2f}{both:>11.2f}{slow:>11.1f}"
            f"{slow / wire:>10.0f}x{wire / loads:>10.2f}x"
        )
    print(
        "\ndict/wire: how many times slower dataclasses-json's from_dict is than from_wire.\n"
        "wire/loads: from_wire's cost relative to the json.loads of the same chunk."
    )


if __name__ == "__main__":
    main()
