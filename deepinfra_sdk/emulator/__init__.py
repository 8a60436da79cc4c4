"""A local DeepInfra-compatible HTTP/1.1 server with fault injection, for tests and demos.

Standard library only and independent of the rest of the SDK (it imports nothing from it),
so it can test the SDK, and any other client, honestly::

    from deepinfra_sdk.emulator import Emulator, Fault

    with Emulator(token_delay=0.01) as emu:           # loopback, free port, daemon threads
        client = DeepInfraClient(api_key=emu.api_key, base_url=emu.url)
        emu.inject(Fault(status=429, retry_after="1"), route="/v1/openai/chat/completions")
        emu.inject(Fault(drop="after_events", after_events=3))
        ...
        assert emu.request_count("/v1/openai/chat/completions", method="POST") == 2
        print(emu.connections_accepted)                   # TCP connections (keep-alive reuse)

Routes (in the shapes DeepInfra answers with; see docs/emulator.md): ``GET /models/featured``,
``GET /models/list`` (no auth),
``GET /models/{owner}/{name}``, ``GET /v1/openai/models[/{id}]``,
``POST /v1/openai/chat/completions`` (JSON, or SSE with ``"stream": true``),
``POST /v1/openai/embeddings``, ``POST /v1/openai/images/generations`` and
``POST /v1/inference/{owner}/{name}`` (text-to-image; Cog-style ``{"input": {...}}`` for
``stability-ai/sdxl``), ``/v1/openai/files[/{id}[/content]]`` and
``/v1/openai/batches[/{id}[/cancel]]`` (see :class:`BatchService`: a batch clock and
:class:`BatchFault` for tests). Every response carries a fresh ``x-request-id``.

Chat answers are deterministic (a hash of the model, the last user message and the choice
index picks the words); ``max_tokens`` is the exact length, with finish reason ``length``.

Per-request controls, as headers: ``X-Emulator-Fault: {"drop": "after_events", ...}`` (a JSON
object with :class:`Fault`'s fields; it wins over queued faults for that request),
``X-Emulator-Token-Delay: 0.05`` and ``X-Emulator-Framing: close``.

Answers take the shapes recorded from the real service (``shapes="recorded"``, explicit
nulls and all; ``"lean"`` for the minimal ones), idle streams send ``: ping`` comments every
``ping_interval`` seconds, and ``any_model=True`` serves any ``owner/name``. The native route
also serves text generation (``{"input": ...}``) and embeddings (``{"inputs": [...]}``).

From a shell: ``python -m deepinfra_sdk.emulator --port 8000 [--token-delay S]
[--framing chunked|content-length|close] [--api-key K ...] [--no-auth] [--any-model]
[--shapes recorded|lean] [--ping-interval S]``.
"""

from __future__ import annotations

from ._batches import BatchFault, BatchService
from ._catalogue import CATALOGUE, FEATURED
from ._cli import main
from ._emulator import DEFAULT_API_KEY, Emulator
from ._faults import Fault, RandomFaults
from ._png import render_png
from ._recording import RecordedRequest

__all__ = [
    "CATALOGUE",
    "DEFAULT_API_KEY",
    "FEATURED",
    "BatchFault",
    "BatchService",
    "Emulator",
    "Fault",
    "RandomFaults",
    "RecordedRequest",
    "main",
    "render_png",
]
