"""Coverage-guided fuzzing of error-body parsing with atheris (not run by pytest).

Any status and body bytes must give a typed error with a short message, and any body must
decode without raising. See tests/README.md::

    pip install atheris
    python tests/fuzz/fuzz_error_body.py -dict=tests/fuzz/error_body.dict -max_total_time=300 \
        /tmp/error-body-corpus
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

with atheris.instrument_imports(include=["deepinfra_sdk"]):
    from deepinfra_sdk._error_body import (
        decode_body,
        error_message,
        error_type,
        request_id,
        status_error,
        stream_error,
    )
    from deepinfra_sdk._exceptions import status_error_class

MESSAGE_LIMIT = 500
STR_LIMIT = 1000


def test_one_input(data: bytes) -> None:
    """One fuzzing step (libFuzzer's TestOneInput)."""
    fdp = atheris.FuzzedDataProvider(data)
    status = fdp.ConsumeIntInRange(400, 599)
    rid = fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 64))
    raw = fdp.ConsumeBytes(fdp.remaining_bytes())

    body = decode_body(raw)
    if isinstance(body, str) and len(body) > MESSAGE_LIMIT:
        raise AssertionError(f"decoded text of {len(body)} characters")
    message = error_message(body)
    if message is not None and not 0 < len(message) <= MESSAGE_LIMIT:
        raise AssertionError(f"a message of {len(message)} characters")
    error_type(body)

    err = status_error(status, {"x-request-id": rid} if rid else {}, raw, method="POST", path="/x")
    if type(err) is not status_error_class(status) or len(str(err)) > STR_LIMIT:
        raise AssertionError(f"bad error for {status}: {type(err).__name__}, {len(str(err))}")
    if isinstance(body, dict):
        frame = stream_error(body, partial_text="so far", rid=request_id({}, body))
        if not 0 < len(frame.message) <= MESSAGE_LIMIT or len(str(frame)) > STR_LIMIT:
            raise AssertionError(f"an in-stream error of {len(str(frame))} characters")


def main() -> None:
    """Run the fuzzer with libFuzzer's command-line options (see ``-help=1``)."""
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
