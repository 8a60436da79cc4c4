"""Coverage-guided fuzzing of the SSE decoder and ChatStream with atheris (not run by pytest).

Each input stands for a size limit, a read mode, chunk boundaries and a byte stream.
The decoder's events for that chunking must equal the reference interpretation of the whole
stream (tests/reliability/test_fuzz_sse.py), and ChatStream, fed the same chunks, must end
or raise one of the SDK's own errors, read in each of its three ways. Any other exception
or a mismatch stops the run and leaves the input in a crash file. See tests/README.md::

    pip install atheris
    python tests/fuzz/fuzz_sse.py -dict=tests/fuzz/sse.dict -max_total_time=300 /tmp/sse-corpus
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import atheris

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

with atheris.instrument_imports(include=["deepinfra_sdk"]):
    from deepinfra_sdk import ChatStream, DeepInfraError
    from deepinfra_sdk._constants import MAX_EVENT_BYTES

from tests.reliability.test_fuzz_sse import (  # noqa: E402 - after instrumentation
    _consume,
    _read_everything,
    reference,
    run_decoder,
    split_at,
)
from tests.test_streaming import ScriptedResponse  # noqa: E402

_MODES = ("chunks", "batches", "events")
_HEADER = 3  # limit, mode, number of cuts; then two bytes per cut, then the stream


def parse(data: bytes) -> tuple[int, str, list[bytes]]:
    """The size limit, the read mode and the chunks an input stands for.

    A plain layout rather than FuzzedDataProvider, so that seeds are easy to write: three
    zero bytes then a stream mean "default limit, read chunk by chunk, one piece".
    """
    head = data[:_HEADER].ljust(_HEADER, b"\0")
    limit = MAX_EVENT_BYTES if head[0] < 128 else 1 + head[0] % 96
    mode = _MODES[head[1] % len(_MODES)]
    count = head[2] % 25
    cut_bytes = data[_HEADER : _HEADER + 2 * count]
    cuts = [int.from_bytes(cut_bytes[i : i + 2], "little") for i in range(0, len(cut_bytes), 2)]
    stream = data[_HEADER + 2 * count :]
    return limit, mode, split_at(stream, cuts)


def test_one_input(data: bytes) -> None:
    """One fuzzing step (libFuzzer's TestOneInput)."""
    limit, mode, chunks = parse(data)
    stream = b"".join(chunks)
    expected = reference(stream, limit)
    got = run_decoder(chunks, limit)
    if got != expected:
        raise AssertionError(f"decoder {got!r} != reference {expected!r} for {chunks!r}")

    chat = ChatStream(ScriptedResponse(chunks), model="owner/model")
    try:
        _consume(chat, mode)
    except DeepInfraError as exc:
        if exc.partial_text != chat.text or not chat.closed:
            raise AssertionError(f"an error lost the text or the connection: {exc!r}") from exc
    _read_everything(chat)


def _frame(obj: object) -> bytes:
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


def seeds() -> list[bytes]:
    """Realistic streams to start from: a chat answer, tool calls, reasoning, errors."""
    delta = {"index": 0, "delta": {"role": "assistant", "content": "Hi"}}
    tool = {"index": 0, "id": "call_1", "function": {"name": "f", "arguments": "{}"}}
    finish = {"index": 0, "delta": {}, "finish_reason": "stop"}
    usage = {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}
    streams = [
        _frame({"id": "c", "choices": [delta]})
        + _frame({"choices": [finish], "usage": usage})
        + b"data: [DONE]\n\n",
        _frame({"choices": [{"index": 0, "delta": {"tool_calls": [tool]}}]})
        + _frame({"choices": [{"index": 1, "delta": {"reasoning_content": "hm"}}]})
        + b"data: [DONE]\r\n\r\n",
        b"\xef\xbb\xbf: keep-alive\r\n\r\n" + _frame({"choices": [delta]}).replace(b"\n", b"\r"),
        _frame({"error_type": "validation_error", "error_message": '{"error":{"message":"x"}}'}),
        _frame({"error": {"message": "boom", "type": "server_error"}}),
        b"event: ping\nid: 7\nretry: 1000\ndata: {}\n\n",
    ]
    return [b"\0\0\0" + stream for stream in streams]


def main() -> None:
    """Run the fuzzer with libFuzzer's command-line options (see ``-help=1``).

    An empty corpus directory given on the command line is first filled with :func:`seeds`.
    """
    for arg in sys.argv[1:]:
        corpus = Path(arg)
        if not arg.startswith("-") and corpus.is_dir() and not any(corpus.iterdir()):
            for number, seed in enumerate(seeds()):
                (corpus / f"seed-{number}").write_bytes(seed)
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
