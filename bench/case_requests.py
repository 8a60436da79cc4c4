"""Case 5, non-stream request overhead: many small chat completions over one kept-alive connection.

A minimal loopback server in a child process answers every POST with the same small
``chat.completion`` JSON (HTTP/1.1, Content-Length, keep-alive), so the server costs each
contender the same and none of the client's CPU. Contenders: a bare ``requests.Session.post``
+ ``json.loads`` loop, this SDK's ``chat.completions.create`` (typed ``ChatCompletion``),
and ``openai.OpenAI``'s.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Callable, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

import requests
from _report import CaseResult, Context, Target, median, profile_text, ratio, spread, x
from _sse_server import ProcessBenchServer
from bench_stream import MESSAGES, MODEL

from deepinfra_sdk import DeepInfraClient

CHAT = "/v1/openai/chat/completions"
BARE = "bare requests.Session.post + json.loads"
SDK = "deepinfra_sdk chat.completions.create"
OPENAI = "openai.OpenAI chat.completions.create"

COMPLETION = {
    "id": "chatcmpl-guMTxWgpFf",
    "object": "chat.completion",
    "created": 1694623155,
    "model": MODEL,
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": " Hello! It's nice to meet you."},
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 15,
        "completion_tokens": 16,
        "total_tokens": 31,
        "estimated_cost": 0.0000268,
    },
}

# A contender makes ``n`` requests and returns how many answers it checked.
Loop = Callable[[int], int]


def bare_loop(url: str) -> Loop:
    """The hand-written baseline: no typed result, no error handling beyond the status."""
    session = requests.Session()
    body = {"model": MODEL, "messages": MESSAGES}

    def run(n: int) -> int:
        ok = 0
        for _ in range(n):
            resp = session.post(url + CHAT, json=body)
            resp.raise_for_status()
            ok += json.loads(resp.content)["choices"][0]["message"]["content"] is not None
        return ok

    return run


def sdk_loop(url: str) -> Loop:
    """This SDK: one client, typed ``ChatCompletion`` results."""
    client = DeepInfraClient("bench-key", base_url=url)

    def run(n: int) -> int:
        ok = 0
        create = client.chat.completions.create
        for _ in range(n):
            ok += create(model=MODEL, messages=MESSAGES).choices[0].message.content is not None
        return ok

    return run


def openai_loop(url: str) -> Optional[Loop]:
    """openai-python, when installed."""
    try:
        import openai
    except ImportError:
        return None
    client = openai.OpenAI(api_key="bench-key", base_url=url + "/v1/openai", max_retries=0)

    def run(n: int) -> int:
        ok = 0
        create = client.chat.completions.create
        for _ in range(n):
            ok += create(model=MODEL, messages=MESSAGES).choices[0].message.content is not None  # type: ignore[arg-type]
        return ok

    return run


def run(ctx: Context) -> CaseResult:
    """Target: the SDK within 1.3x the time of bare requests."""
    n, rounds = (50, 1) if ctx.quick else (2_000, 5)
    result = CaseResult(
        key="requests",
        title="5. Non-stream request overhead",
        setup=(
            f"{n:,} small chat completions per contender per round over one kept-alive "
            f"connection, {rounds} rounds alternating, median µs per request "
            "(server: fixed JSON answer, HTTP/1.1 Content-Length, child process)."
        ),
        columns=["contender", "µs/request", "rounds spread", "requests/s", "time vs bare"],
    )
    body = json.dumps(COMPLETION).encode()
    with ProcessBenchServer(
        body, framing="content-length", content_type="application/json"
    ) as server:
        loops: dict[str, Loop] = {BARE: bare_loop(server.url), SDK: sdk_loop(server.url)}
        oa = openai_loop(server.url)
        if oa is not None:
            loops[OPENAI] = oa
        for loop in loops.values():  # warm-up: connection, imports, caches
            loop(min(n, 50))
        per_request: dict[str, list[float]] = {name: [] for name in loops}
        names = list(loops)
        for r in range(rounds):
            for name in names if r % 2 == 0 else names[::-1]:
                started = time.perf_counter()
                ok = loops[name](n)
                elapsed = time.perf_counter() - started
                if ok != n:
                    raise RuntimeError(f"{name}: {ok} of {n} answers had content")
                per_request[name].append(elapsed / n)
        medians = {name: median(v) for name, v in per_request.items()}
        bare = medians[BARE]
        for name, secs in medians.items():
            result.rows.append(
                [
                    name,
                    f"{secs * 1e6:,.0f}",
                    spread(per_request[name]),
                    f"{1 / secs:,.0f}",
                    x(ratio(secs, bare)),
                ]
            )
        vs = ratio(medians[SDK], bare)
        result.targets.append(Target("SDK time <= 1.3x bare requests", x(vs), vs <= 1.3))
        if OPENAI in medians:
            result.notes.append(
                f"openai.OpenAI takes {x(ratio(medians[OPENAI], medians[SDK]))} the SDK's time"
            )
        result.raw = {
            "requests": n,
            "rounds": rounds,
            "seconds_per_request": per_request,
            "medians": medians,
        }
        if ctx.profile and result.missed_speed():
            sdk = loops[SDK]
            result.profile = profile_text(lambda: sdk(n), title=f"{n:,} requests")
    return result
