"""Sync streaming throughput: this SDK against a bare requests loop and openai-python.

    python bench/bench_stream.py            # 50,000-chunk streams, 5 rounds (~30 s)
    python bench/bench_stream.py --quick    # tiny sizes, a CI smoke run (~2 s)

A minimal SSE server in a child process sends one pre-rendered stream per request (so the
server neither costs the client CPU time nor competes with it for the GIL). Each round runs
every contender once, in alternating order; the table reports the median chunks/s and the
ratios. Contenders:

* ``bare requests``: ``iter_lines()`` + ``json.loads`` on each ``data:`` line: the practical
  limit of a hand-written loop (no SSE rules, no typed objects, untyped dicts);
* ``deepinfra_sdk``: ``ChatStream``, typed ``ChatCompletionChunk`` objects and accumulation;
* ``openai``: ``OpenAI(...).chat.completions.create(stream=True)``, if the package is installed.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests
from _sse_server import ProcessBenchServer, render_stream

from deepinfra_sdk import DeepInfraClient

MESSAGES = [{"role": "user", "content": "bench"}]
MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"


def bare_loop(url: str) -> Callable[[], int]:
    """The hand-written baseline."""
    session = requests.Session()

    def run() -> int:
        count = 0
        body = {"model": MODEL, "messages": MESSAGES, "stream": True}
        with session.post(url + "/v1/openai/chat/completions", json=body, stream=True) as resp:
            for line in resp.iter_lines():
                if line.startswith(b"data: "):
                    data = line[6:]
                    if data == b"[DONE]":
                        break
                    json.loads(data)
                    count += 1
        return count

    return run


def sdk_loop(url: str) -> Callable[[], int]:
    """This SDK's ChatStream."""
    client = DeepInfraClient("bench-key", base_url=url)

    def run() -> int:
        count = 0
        with client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True) as stream:
            for _ in stream:
                count += 1
        return count

    return run


def openai_loop(url: str) -> Callable[[], int] | None:
    """openai-python's streaming, when installed."""
    try:
        import openai
    except ImportError:
        return None
    client = openai.OpenAI(api_key="bench-key", base_url=url + "/v1/openai", max_retries=0)

    def run() -> int:
        count = 0
        stream = client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)  # type: ignore[call-overload]
        for _ in stream:
            count += 1
        stream.close()
        return count

    return run


def measure(
    contenders: dict[str, Callable[[], int]], rounds: int, expected: int
) -> dict[str, list[float]]:
    """Chunks per second of each contender per round, alternating the order each round."""
    rates: dict[str, list[float]] = {name: [] for name in contenders}
    names = list(contenders)
    for r in range(rounds):
        order = names if r % 2 == 0 else names[::-1]
        for name in order:
            started = time.perf_counter()
            count = contenders[name]()
            elapsed = time.perf_counter() - started
            if count != expected:
                raise SystemExit(f"{name} read {count} chunks, expected {expected}")
            rates[name].append(count / elapsed)
    return rates


def main(argv: list[str] | None = None) -> dict[str, object]:
    """Run the benchmark, print the table, return the raw numbers."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a CI smoke run")
    parser.add_argument("--chunks", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", metavar="PATH", help="also write the raw numbers here")
    args = parser.parse_args(argv)
    chunks, rounds = (500, 2) if args.quick else (args.chunks, args.rounds)

    with ProcessBenchServer(render_stream(chunks)) as server:
        contenders = {"bare requests": bare_loop(server.url), "deepinfra_sdk": sdk_loop(server.url)}
        oa = openai_loop(server.url)
        if oa is not None:
            contenders["openai"] = oa
        measure(contenders, 1, chunks + 1)  # warm-up: connections, imports, caches
        rates = measure(contenders, rounds, chunks + 1)

    medians = {name: statistics.median(v) for name, v in rates.items()}
    bare = medians["bare requests"]
    sdk = medians["deepinfra_sdk"]
    print(f"sync stream, {chunks:,} chunks x {rounds} rounds, Python {platform.python_version()}")
    print(f"{'contender':16} {'chunks/s':>12} {'vs bare':>9} {'SDK is':>9}")
    for name, rate in medians.items():
        print(f"{name:16} {rate:12,.0f} {rate / bare:8.2f}x {sdk / rate:8.2f}x")
    result: dict[str, object] = {
        "chunks": chunks,
        "rounds": rounds,
        "rates": rates,
        "medians": medians,
    }
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
