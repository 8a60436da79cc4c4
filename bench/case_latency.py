"""Case 3, event latency: how long after the server writes an event does the caller get it?

Events go out ``interval`` apart, each carrying the server's ``time.monotonic()`` at the
write (see _latency_server.py: a system-wide clock on Linux, so two processes can compare
it). The caller subtracts it from its own clock when the chunk reaches its loop body.
Three framings: chunked, Content-Length and close-delimited. Contenders: the SDK (sync, and
async on each backend), a naive ``requests`` ``iter_lines()`` loop, the way many clients
read SSE, which is known to hold events back in the last two framings (so the SDK reads with
``raw.read1`` instead; the table shows what it does), and a raw socket ``recv`` loop: the
floor, the latency this machine's kernel and scheduler add to any client.
"""

from __future__ import annotations

import json
import re
import socket
import sys
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

import anyio
import requests
from _latency_server import FRAMINGS, ProcessLatencyServer
from _report import CaseResult, Context, Target, percentile
from bench_stream import MESSAGES, MODEL

from deepinfra_sdk import AsyncDeepInfraClient, DeepInfraClient

# A contender reads one stream and returns each content event's latency in seconds.
Reader = Callable[[], "list[float]"]

NAIVE = "naive requests iter_lines() loop"
FLOOR = "floor: raw socket recv loop"
SYNC = "deepinfra_sdk sync"
CHAT = "/v1/openai/chat/completions"
TARGET_MS = 5.0


_STAMP = re.compile(rb'"content":"(\d+\.\d+)"')


def socket_reader(url: str) -> Reader:
    """The floor: a raw socket, one ``recv`` at a time, stamps found with a regex.

    No HTTP parsing and no SSE rules; what is left of the latency is the kernel, the
    scheduler and the interpreter on this machine, which is what the SDK's numbers should be
    judged against.
    """
    host, port = url.removeprefix("http://").split(":")
    body = json.dumps({"model": MODEL, "messages": MESSAGES, "stream": True}).encode()
    request = (
        f"POST {CHAT} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body

    def run() -> list[float]:
        lat = []
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall(request)
            pending = b""
            while True:
                data = sock.recv(65536)
                now = time.monotonic()
                if not data:
                    break
                pending += data
                cut = pending.rfind(b"\n\n") + 2  # only whole events
                whole, pending = pending[:cut], pending[cut:]
                lat.extend(now - float(m) for m in _STAMP.findall(whole))
                if b"[DONE]" in whole:
                    break
        return lat

    return run


def naive_reader(url: str) -> Reader:
    """``iter_lines()`` + ``json.loads``: no SSE rules, default chunk size (512 bytes)."""
    session = requests.Session()
    body = {"model": MODEL, "messages": MESSAGES, "stream": True}

    def run() -> list[float]:
        lat = []
        with session.post(url + CHAT, json=body, stream=True) as resp:
            for line in resp.iter_lines():
                now = time.monotonic()
                if not line.startswith(b"data: ") or line == b"data: [DONE]":
                    continue
                content = json.loads(line[6:])["choices"][0]["delta"].get("content")
                if content:
                    lat.append(now - float(content))
        return lat

    return run


def sdk_sync_reader(url: str) -> Reader:
    """``DeepInfraClient`` ``ChatStream``."""
    client = DeepInfraClient("bench-key", base_url=url)

    def run() -> list[float]:
        lat = []
        with client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True) as stream:
            for chunk in stream:
                now = time.monotonic()
                content = chunk.choices[0].delta.content if chunk.choices else None
                if content:
                    lat.append(now - float(content))
        return lat

    return run


def sdk_async_reader(url: str, backend: str) -> Reader:
    """``AsyncDeepInfraClient`` on ``backend``, one event loop per stream."""
    aclient = AsyncDeepInfraClient("bench-key", base_url=url)

    async def read() -> list[float]:
        lat = []
        stream = await aclient.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        async with stream:
            async for chunk in stream:
                now = time.monotonic()
                content = chunk.choices[0].delta.content if chunk.choices else None
                if content:
                    lat.append(now - float(content))
        return lat

    def run() -> list[float]:
        return anyio.run(read, backend=backend)

    return run


def async_name(backend: str) -> str:
    """The row name of the async SDK on ``backend``."""
    return f"deepinfra_sdk async ({backend})"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def run(ctx: Context) -> CaseResult:
    """Target: SDK p99 < 5 ms in every framing (sync and async)."""
    events, interval, rounds = (6, 0.01, 1) if ctx.quick else (50, 0.02, 3)
    try:
        import trio  # noqa: F401

        backends = ["asyncio", "trio"]
    except ImportError:
        backends = ["asyncio"]
    names = [FLOOR, SYNC, *map(async_name, backends), NAIVE]
    sdk_names = [SYNC, *map(async_name, backends)]
    result = CaseResult(
        key="latency",
        title="3. Event latency",
        setup=(
            f"{events} events {interval * 1000:.0f} ms apart per stream (the first one "
            f"{interval * 1000:.0f} ms after the response head), {rounds} rounds "
            f"alternating the contenders ({events * rounds} samples per cell); latency = "
            "arrival in the caller's loop minus the server's write, both on "
            "`time.monotonic()` (CLOCK_MONOTONIC on Linux: one clock for all processes). "
            "Cells: p50 / p99 ms (nearest rank), max in the raw JSON."
        ),
        columns=["contender", *(f"{f} p50 / p99 ms" for f in FRAMINGS)],
    )
    samples: dict[str, dict[str, list[float]]] = {n: {f: [] for f in FRAMINGS} for n in names}
    servers = {f: ProcessLatencyServer(f, events, interval) for f in FRAMINGS}
    try:
        readers: dict[str, dict[str, Reader]] = {f: {} for f in FRAMINGS}
        for f, server in servers.items():
            readers[f][FLOOR] = socket_reader(server.url)
            readers[f][SYNC] = sdk_sync_reader(server.url)
            for backend in backends:
                readers[f][async_name(backend)] = sdk_async_reader(server.url, backend)
            readers[f][NAIVE] = naive_reader(server.url)
            for reader in readers[f].values():  # warm-up: imports, connections
                reader()
        for r in range(rounds):
            for f in FRAMINGS:
                for name in names if r % 2 == 0 else names[::-1]:
                    got = readers[f][name]()
                    if len(got) != events:
                        raise RuntimeError(f"{name} ({f}) saw {len(got)} of {events} events")
                    samples[name][f].extend(got)
    finally:
        for server in servers.values():
            server.__exit__()
    for name in names:
        cells = [
            f"{_ms(percentile(samples[name][f], 50))} / {_ms(percentile(samples[name][f], 99))}"
            for f in FRAMINGS
        ]
        result.rows.append([name, *cells])
    for name in sdk_names:
        worst = max(FRAMINGS, key=lambda f: percentile(samples[name][f], 99))
        p99 = percentile(samples[name][worst], 99)
        result.targets.append(
            Target(
                f"{name}: p99 < {TARGET_MS:.0f} ms in every framing",
                f"worst {_ms(p99)} ms ({worst})",
                p99 * 1000 < TARGET_MS,
            )
        )
    naive_p50 = {f: percentile(samples[NAIVE][f], 50) * 1000 for f in FRAMINGS}
    held = [f for f, v in naive_p50.items() if v >= TARGET_MS]
    if held:
        result.notes.append(
            "the naive iter_lines() loop holds events back in "
            + ", ".join(f"{f} (p50 {naive_p50[f]:.1f} ms)" for f in held)
            + ": iter_content(512) waits for 512 bytes or the end of the body, so an event "
            "that is not in an HTTP chunk of its own waits for the next ones (or for EOF)"
        )
    floor = max(percentile(samples[FLOOR][f], 99) for f in FRAMINGS) * 1000
    result.notes.append(
        f"the raw socket loop's worst p99 is {floor:.2f} ms: the part of every tail that is "
        "this machine's scheduling, not any client's code"
    )
    result.raw = {
        "events": events,
        "interval": interval,
        "rounds": rounds,
        "latency_seconds": samples,
        "max_ms": {n: {f: max(samples[n][f]) * 1000 for f in FRAMINGS} for n in names},
    }
    return result
