"""The `deepinfra` command line, run as a real subprocess against loopback emulators.

Nothing here can reach the real API: every subprocess runs with the DEEPINFRA_* variables
removed and with HTTP(S)_PROXY pointing at a loopback port, so a request that escaped to a
non-loopback host would land on that port instead of the network. Every command is given
``--local`` (an in-process emulator in the CLI) or an explicit loopback ``--base-url`` (an
emulator started by the test, for faults).
"""

from __future__ import annotations

import base64
import errno
import json
import os
import re
import selectors
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

from deepinfra_sdk import (
    DEFAULT_IMAGE_MODEL,
    DEFAULT_MODEL,
    DeepInfraClient,
    ImageResponse,
    __version__,
    cli,
)
from deepinfra_sdk.emulator import Emulator, Fault, render_png

from .conftest import TEST_KEY

ROOT = Path(__file__).resolve().parent.parent
CHAT_ROUTE = "/v1/openai/chat/completions"
DEPRECATED = "runwayml/stable-diffusion-v1-5"
REPLACEMENT = "stabilityai/sdxl-turbo"
EMBED_MODEL = "BAAI/bge-large-en-v1.5"
# The console script pip installed from setup.cfg's entry point: what users run.
SCRIPT = Path(sys.executable).with_name("deepinfra.exe" if os.name == "nt" else "deepinfra")
CLI = (str(SCRIPT),)


# --------------------------------------------------------------------------- helpers


def _default_sigint() -> None:
    # A child started from a shell that ignores SIGINT would inherit SIG_IGN; Ctrl-C tests
    # need Python's KeyboardInterrupt, so restore the default in the child.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture(scope="module")
def trap() -> Iterator[socket.socket]:
    """A listening loopback socket used as HTTP(S)_PROXY: a request that tried to leave the
    machine would connect here (and is then detected), never to the network."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield sock
    sock.close()


def _pending_connections(sock: socket.socket) -> int:
    sock.setblocking(False)
    count = 0
    try:
        while True:
            conn, _ = sock.accept()
            conn.close()
            count += 1
    except BlockingIOError:
        pass
    finally:
        sock.setblocking(True)
    return count


@pytest.fixture
def env(trap: socket.socket) -> Iterator[dict[str, str]]:
    """The environment of every CLI subprocess: no DEEPINFRA_*, proxies trapped."""
    base = {k: v for k, v in os.environ.items() if not k.upper().startswith("DEEPINFRA_")}
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        base.pop(name, None)
        base.pop(name.upper(), None)
    proxy = f"http://127.0.0.1:{trap.getsockname()[1]}"
    base.update(
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), base.get("PYTHONPATH", "")])),
        HTTP_PROXY=proxy,
        HTTPS_PROXY=proxy,
        NO_PROXY="127.0.0.1,localhost",
        PYTHONIOENCODING="utf-8",
        # Warnings are errors in the CLI too, and dev mode reports unclosed sockets and
        # files: a leak would add lines to stderr and fail the one-line checks.
        PYTHONWARNINGS="error",
        PYTHONDEVMODE="1",
    )
    yield base
    assert _pending_connections(trap) == 0, "a CLI request tried to leave the machine"


def run(
    env: dict[str, str],
    *args: str,
    cwd: Optional[Path] = None,
    stdin: Optional[str] = None,
    timeout: float = 30,
) -> subprocess.CompletedProcess[str]:
    """Run `deepinfra ARGS` (the console script), capturing stdout and stderr separately."""
    return subprocess.run(
        [*CLI, *args],
        env=env,
        cwd=str(cwd or ROOT),
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
        check=False,
    )


def assert_one_error_line(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    """stderr is exactly one `deepinfra: error: ...` line, no traceback, naming the needles."""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("deepinfra: error: "), result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR (after checking the signature and chunk type)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    """An emulator owned by the test process, for faults and request counts."""
    with Emulator(token_delay=0.0, api_keys=[TEST_KEY]) as server:
        yield server


def remote(emu: Emulator) -> list[str]:
    """Options pointing the CLI at the test's emulator."""
    return ["--base-url", emu.url, "--api-key", TEST_KEY]


# --------------------------------------------------------------------------- basics


def test_version_and_help(env: dict[str, str]) -> None:
    result = run(env, "--version")
    assert result.returncode == 0
    assert result.stdout.startswith("deepinfra ")
    result = run(env, "--help")
    assert result.returncode == 0
    for command in ("models", "chat", "image", "embed", "emulator", "demo"):
        assert command in result.stdout
    # `python -m deepinfra_sdk` is the same program as the console script.
    module = subprocess.run(
        [sys.executable, "-m", "deepinfra_sdk", "--version"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert module.returncode == 0 and module.stdout == run(env, "--version").stdout


def test_usage_errors_exit_2(env: dict[str, str]) -> None:
    assert run(env).returncode == 2  # no command: help on stderr
    result = run(env, "chat")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert run(env, "models", "--type", "video", "--local").returncode == 2
    assert (
        run(env, "chat", "-", "hi", "--local", "--base-url", "http://127.0.0.1:1").returncode == 2
    )


# --------------------------------------------------------------------------- models


def test_models_lists_names_on_stdout(env: dict[str, str]) -> None:
    result = run(env, "models", "--local")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    names = result.stdout.splitlines()
    assert DEFAULT_MODEL in names
    assert DEFAULT_IMAGE_MODEL in names
    assert all("/" in name and " " not in name for name in names)

    assert DEPRECATED not in names  # not offered by default

    text = run(env, "--local", "models", "--type", "text").stdout.splitlines()
    assert DEFAULT_MODEL in text
    assert DEFAULT_IMAGE_MODEL not in text


def test_an_openai_style_base_url_is_corrected_with_one_warning_line(
    env: dict[str, str], emu: Emulator
) -> None:
    result = run(env, "models", "--base-url", emu.url + "/v1/openai", "--api-key", TEST_KEY)
    assert result.returncode == 0, result.stderr
    assert DEFAULT_MODEL in result.stdout.splitlines()
    (line,) = result.stderr.splitlines()
    assert line.startswith("deepinfra: warning: base_url ")
    assert f"using the API root {emu.url!r}" in line


def test_models_marks_deprecated_ones_when_asked(env: dict[str, str]) -> None:
    for argv in (["models"], ["models", "--type", "image"]):
        result = run(env, *argv, "--include-deprecated", "--local")
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert f"{DEPRECATED}  (deprecated: use {REPLACEMENT})" in lines
        assert DEFAULT_IMAGE_MODEL in lines  # current ones unmarked


def test_models_json(env: dict[str, str]) -> None:
    result = run(env, "models", "--type", "image", "--json", "--local", "--include-deprecated")
    assert result.returncode == 0, result.stderr
    models = json.loads(result.stdout)
    assert isinstance(models, list)
    assert models
    assert {m["reported_type"] for m in models} == {"text-to-image"}
    by_name = {m["model_name"]: m for m in models}
    assert DEFAULT_IMAGE_MODEL in by_name
    assert by_name[DEPRECATED]["replaced_by"] == REPLACEMENT


# --------------------------------------------------------------------------- chat


def _sdk_answer(emu: Emulator, prompt: str, **options: Any) -> str:
    with DeepInfraClient(api_key=TEST_KEY, base_url=emu.url) as client:
        completion = client.chat.completions.create(
            model=DEFAULT_MODEL, messages=[{"role": "user", "content": prompt}], **options
        )
        return str(completion.text)


def test_chat_streams_the_answer_to_stdout(env: dict[str, str], emu: Emulator) -> None:
    result = run(env, "chat", DEFAULT_MODEL, "Say hello", "--max-tokens", "30", *remote(emu))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    # The emulator is deterministic: the CLI prints exactly what the SDK receives, plus "\n".
    assert result.stdout == _sdk_answer(emu, "Say hello", max_tokens=30) + "\n"
    assert TEST_KEY not in result.stdout + result.stderr


def test_chat_default_model_and_prompt_from_stdin(env: dict[str, str], emu: Emulator) -> None:
    result = run(env, "chat", "-", "-", "--no-stream", *remote(emu), stdin="Say hello")
    assert result.returncode == 0, result.stderr
    assert result.stdout == _sdk_answer(emu, "Say hello") + "\n"
    result = run(env, "chat", "default", "-", "--local", stdin="   ")
    assert result.returncode == 2
    assert_one_error_line(result, "prompt is empty")


@pytest.mark.parametrize("stream", [True, False])
def test_chat_json(env: dict[str, str], stream: bool) -> None:
    extra = [] if stream else ["--no-stream"]
    result = run(env, "chat", "-", "Hi there", "--json", "--system", "Be brief", "--local", *extra)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    completion = json.loads(result.stdout)
    assert completion["object"] == "chat.completion"
    assert completion["model"] == DEFAULT_MODEL
    assert completion["choices"][0]["message"]["content"].strip()
    assert completion["choices"][0]["finish_reason"] in ("stop", "length")
    assert completion["usage"]["estimated_cost"] > 0


def test_chat_verbose_reports_cost_and_logs_without_the_key(
    env: dict[str, str], emu: Emulator
) -> None:
    result = run(env, "--verbose", "chat", "-", "Hi", "--max-tokens", "5", *remote(emu))
    assert result.returncode == 0, result.stderr
    assert "DEBUG" in result.stderr
    assert "POST /v1/openai/chat/completions" in result.stderr
    assert "deepinfra: chat cost $" in result.stderr
    assert "5 completion tokens" in result.stderr
    assert "DEBUG" not in result.stdout
    assert TEST_KEY not in result.stdout + result.stderr


def test_chat_stream_broken_midway_keeps_the_text(env: dict[str, str], emu: Emulator) -> None:
    emu.inject(Fault(drop="after_events", after_events=4), times=1, route=CHAT_ROUTE)
    result = run(env, "chat", "-", "Tell me more", "--max-tokens", "40", *remote(emu))
    assert result.returncode == 1
    full = _sdk_answer(emu, "Tell me more", max_tokens=40)
    partial = result.stdout.rstrip("\n")
    assert partial
    assert full.startswith(partial)
    assert len(partial) < len(full)
    assert_one_error_line(result, "stream broke", f"after {len(partial)} characters")


def test_ctrl_c_stops_the_stream_exits_130_and_keeps_the_text(env: dict[str, str]) -> None:
    with Emulator(token_delay=0.05, api_keys=[TEST_KEY]) as slow:
        sent: list[int] = []
        slow.event_gate = sent.append  # called before each event goes out
        code, text, stderr = _interrupt_once(
            [*CLI, "chat", "-", "Write an essay", "--max-tokens", "500", *remote(slow)],
            env,
            lambda data: len(data) >= 20,
        )
        assert code == 130, stderr
        assert "Traceback" not in stderr
        assert stderr.strip().splitlines() == ["deepinfra: interrupted"]
        # The partial answer stays, and it is a prefix of the full one (500 tokens).
        assert len(text.strip()) >= 20
        assert text.endswith("\n")
        assert len(text.split()) < 500
        # The emulator saw the stream end: no event is sent any more (with 0.05 s between
        # tokens, a live stream would send several in this wait), far short of 500.
        time.sleep(0.2)
        count = len(sent)
        time.sleep(0.3)
        assert len(sent) == count < 500
        assert slow.handler_errors == []
        # The emulator is not left stuck on the dropped stream: it answers at once.
        with DeepInfraClient(api_key=TEST_KEY, base_url=slow.url, timeout=5) as client:
            assert DEFAULT_MODEL in client.models.text_models()


def test_ctrl_c_with_json_prints_what_arrived_marked_interrupted(env: dict[str, str]) -> None:
    with Emulator(token_delay=0.05, api_keys=[TEST_KEY]) as slow:
        sent: list[int] = []
        slow.event_gate = sent.append
        argv = [*CLI, "chat", "-", "Write an essay", "--max-tokens", "500", "--json", *remote(slow)]
        # --json prints nothing before the end: Ctrl-C once a few events went out.
        code, out, err = _interrupt_once(argv, env, when=lambda: len(sent) >= 8)
        full = _sdk_answer(slow, "Write an essay", max_tokens=500)
    assert code == 130, err
    assert err.splitlines() == ["deepinfra: interrupted"]
    body = json.loads(out)
    assert body["interrupted"] is True
    text = body["choices"][0]["message"]["content"]
    assert text and full.startswith(text) and len(text) < len(full)


def _on_a_terminal(
    env: dict[str, str], *args: str, typed: Optional[bytes] = None
) -> tuple[int, str, str]:
    """Run the CLI with stdout on a pseudo-terminal (or, with ``typed``, stdin: those bytes
    are typed into it); return the exit code, what the terminal showed, and stderr."""
    master, slave = os.openpty()
    terminal_in = typed is not None
    try:
        proc = subprocess.Popen(
            [*CLI, *args],
            env=env,
            cwd=str(ROOT),
            stdin=slave if terminal_in else subprocess.DEVNULL,
            stdout=subprocess.PIPE if terminal_in else slave,
            stderr=subprocess.PIPE,
        )
        os.close(slave)
        slave = -1
        if terminal_in:
            assert typed is not None
            os.write(master, typed)
            out, err = proc.communicate(timeout=20)
            shown = out
        else:
            shown = _read_until(master, lambda data: False, timeout=20)
            err = proc.communicate(timeout=20)[1]
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, shown.decode().replace("\r\n", "\n"), err.decode()


REASONER = "deepseek-ai/DeepSeek-R1"


def test_reasoning_is_shown_dimmed_on_a_terminal_and_hidden_on_request(
    env: dict[str, str],
) -> None:
    env = {k: v for k, v in env.items() if k != "NO_COLOR"}
    with Emulator() as emu, DeepInfraClient(emu.api_key, base_url=emu.url) as client:
        answer = (
            client.chat.completions.create(
                model=REASONER, messages=[{"role": "user", "content": "Why?"}], max_tokens=30
            )
            .choices[0]
            .message
        )
    assert answer.reasoning_content and answer.content
    argv = ["chat", REASONER, "Why?", "--max-tokens", "30", "--local"]
    code, shown, err = _on_a_terminal(env, *argv)
    assert code == 0, err
    dimmed = f"\x1b[2m{answer.reasoning_content}\x1b[0m\n\n"
    assert shown == f"{dimmed}{answer.content}\n"
    code, shown, err = _on_a_terminal(env, *argv, "--no-stream")  # whole, the same way
    assert code == 0, err
    assert shown == f"{dimmed}{answer.content}\n"
    code, shown, err = _on_a_terminal(env, *argv, "--no-reasoning")
    assert code == 0, err
    assert shown == f"{answer.content}\n"
    # NO_COLOR keeps the thinking, without the styling.
    code, shown, _ = _on_a_terminal({**env, "NO_COLOR": "1"}, *argv)
    assert shown == f"{answer.reasoning_content}\n\n{answer.content}\n"
    # Piped, stdout is data: the answer alone.
    result = run(env, *argv)
    assert result.stdout == f"{answer.content}\n"


def test_a_prompt_read_from_the_terminal_gets_a_hint(env: dict[str, str]) -> None:
    code, shown, err = _on_a_terminal(env, "chat", "-", "-", "--local", typed=b"Why?\n\x04")
    assert code == 0, err
    assert err.splitlines() == [
        "deepinfra: reading the prompt from the terminal: type it, then press Ctrl-D to send"
    ]
    with Emulator() as emu:
        assert shown == _sdk_answer(emu, "Why?\n") + "\n"
    # Piped in, nothing to hint at.
    result = run(env, "chat", "-", "-", "--local", stdin="Why?\n")
    assert result.returncode == 0 and result.stderr == ""


def _interrupt_once(
    argv: list[str],
    env: dict[str, str],
    ready: Callable[[bytes], bool] = bool,
    *,
    when: Optional[Callable[[], bool]] = None,
) -> tuple[int, str, str]:
    """Run ``argv``, press Ctrl-C once its stdout satisfies ``ready`` (or, given, once
    ``when()`` is true) while it still runs, and return its exit code, whole stdout and
    stderr."""
    proc = subprocess.Popen(
        argv,
        env=env,
        cwd=str(ROOT),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=_default_sigint,  # noqa: PLW1509 - no threads touch the child
    )
    assert proc.stdout is not None
    try:
        if when is None:
            received = _read_until(proc.stdout.fileno(), ready, timeout=15)
            assert ready(received), f"stdout never got there: {received!r}"
        else:
            received = b""
            deadline = time.monotonic() + 15
            while not when() and time.monotonic() < deadline:
                time.sleep(0.02)
            assert when(), "the moment to press Ctrl-C never came"
        assert proc.poll() is None, "the whole answer arrived at once: not streamed"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, (received + out).decode(), err.decode()


def _read_until(fd: int, done: Callable[[bytes], bool], *, timeout: float) -> bytes:
    """Bytes from a pipe (or pty) as they arrive, until ``done(data)`` (or EOF, or timeout)."""
    data = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while not done(data) and time.monotonic() < deadline:
            if sel.select(timeout=0.2):
                try:
                    chunk = os.read(fd, 4096)
                except OSError:  # EIO: a pseudo-terminal whose other end is closed
                    break
                if not chunk:
                    break
                data += chunk
    return data


# --------------------------------------------------------------------------- image


def test_image_writes_a_png_of_the_requested_size(env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "fox.png"
    result = run(
        env,
        "image",
        DEFAULT_IMAGE_MODEL,
        "a red fox",
        "-o",
        str(out),
        "--width",
        "64",
        "--height",
        "96",
        "--seed",
        "3",
        "--local",
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # not a TTY: no spinner
    assert result.stdout.splitlines() == [str(out)]
    assert png_size(out) == (64, 96)


def test_image_several_default_names_and_verbose_cost(env: dict[str, str], tmp_path: Path) -> None:
    result = run(
        env,
        "image",
        "-",
        "A Lighthouse, at dusk!",
        "--num-images",
        "2",
        "--width",
        "64",
        "--height",
        "64",
        "--local",
        "-v",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    paths = result.stdout.splitlines()
    assert paths == ["a-lighthouse-at-dusk-0.png", "a-lighthouse-at-dusk-1.png"]
    for name in paths:
        assert png_size(tmp_path / name) == (64, 64)
    assert "deepinfra: image cost $" in result.stderr
    assert "2 image(s)" in result.stderr


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_image_to_a_suffix_of_another_format_writes_the_real_one_and_says_so(
    env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "fox.jpg"
    small = ["--width", "64", "--height", "64", "--local"]
    result = run(env, "image", "-", "a red fox", "-o", str(out), *small)
    assert result.returncode == 0, result.stderr
    fixed = tmp_path / "fox.png"
    assert result.stdout.splitlines() == [str(fixed)]
    assert png_size(fixed) == (64, 64) and not out.exists()
    (line,) = result.stderr.splitlines()
    assert line.startswith("deepinfra: warning: the image is PNG, but the suffix '.jpg' names JPEG")
    assert f"writing {str(fixed)!r} instead of {str(out)!r}" in line


def test_image_file_names_keep_every_script(env: dict[str, str], tmp_path: Path) -> None:
    small = ["--width", "64", "--height", "64", "--local"]
    result = run(env, "image", "-", "Niño con café, día 1", *small, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["niño-con-café-día-1.png"]
    assert png_size(tmp_path / "niño-con-café-día-1.png") == (64, 64)
    result = run(env, "image", "-", "猫/../の絵", *small, cwd=tmp_path)
    assert result.stdout.splitlines() == ["猫-の絵.png"]  # separators never reach the path


def test_image_spinner_only_on_a_tty(env: dict[str, str], tmp_path: Path) -> None:
    out = str(tmp_path / "cat.png")
    master, slave = os.openpty()
    try:
        proc = subprocess.run(
            [*CLI, "image", "-", "a cat", "--local", "--width", "64", "--height", "64", "-o", out],
            env=env,
            cwd=str(ROOT),
            stdout=subprocess.PIPE,
            stderr=slave,
            timeout=30,
            check=False,
        )
        os.close(slave)
        slave = -1
        drawn = _read_until(master, lambda data: len(data) >= 10_000, timeout=1).decode()
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)
    assert proc.returncode == 0
    assert proc.stdout.decode().splitlines() == [out]
    assert "\r| generating 0.0s" in drawn
    assert drawn.endswith("\r\x1b[K")  # the spinner line is cleared at the end


def test_image_output_dir_missing_fails_before_sending(
    env: dict[str, str], emu: Emulator, tmp_path: Path
) -> None:
    before = emu.request_count()
    result = run(env, "image", "-", "x", "-o", str(tmp_path / "nope" / "x.png"), *remote(emu))
    assert result.returncode == 2
    assert_one_error_line(result, "does not exist")
    assert emu.request_count() == before


def test_image_write_failure_names_the_file(env: dict[str, str], tmp_path: Path) -> None:
    # -o names a directory, so the image goes to DIR/image.png: make that a directory too.
    blocker = tmp_path / "out.png" / "image.png"
    (blocker / "keep").mkdir(parents=True)
    result = run(
        env,
        "image",
        "-",
        "a cat",
        "--local",
        "--width",
        "64",
        "--height",
        "64",
        "-o",
        str(tmp_path / "out.png"),
    )
    assert result.returncode == 1
    assert_one_error_line(result, f"cannot write {blocker}: Is a directory")
    assert result.stdout == ""
    assert sorted(p.name for p in blocker.parent.iterdir()) == ["image.png"]  # no temp file


def test_demo_out_dir_failure_names_the_directory(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    result = run(env, "demo", "--out-dir", str(tmp_path / "file" / "sub"))
    assert result.returncode == 1
    assert_one_error_line(result, f"cannot write {tmp_path / 'file' / 'sub'}: Not a directory")
    assert result.stdout == ""  # checked before the tour starts


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_stdout_write_failure(env: dict[str, str]) -> None:
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [*CLI, "models", "--local"],
            env=env,
            cwd=str(ROOT),
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=30,
            check=False,
        )
    assert result.returncode == 1
    assert_one_error_line(result, "cannot write stdout: No space left on device")


@pytest.mark.parametrize("argv", [["models", "--local"], ["demo"]])
def test_local_emulator_that_cannot_start(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    argv: list[str],
) -> None:
    def no_port(self: Emulator) -> Emulator:
        raise OSError(errno.EADDRINUSE, os.strerror(errno.EADDRINUSE))

    monkeypatch.setattr(Emulator, "start", no_port)
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert err == (
        f"deepinfra: error: cannot start the local emulator: {os.strerror(errno.EADDRINUSE)}\n"
    )


def test_image_urls_are_printed_not_saved(tmp_path: Path) -> None:
    # Partner models answer with an image URL: the CLI prints it instead of failing.
    png = render_png(64, 64, "x")
    uri = "data:image/png;base64," + base64.b64encode(png).decode()
    image = ImageResponse(images=["https://cdn.example/a.png", uri])
    written = cli._save_images(image, tmp_path / "pic")
    assert written == ["https://cdn.example/a.png", str(tmp_path / "pic-1.png")]
    assert png_size(tmp_path / "pic-1.png") == (64, 64)
    assert cli._default_image_path("  A Cat: on a mat!  ") == Path("a-cat-on-a-mat")
    assert cli._default_image_path("???") == Path("image")


# --------------------------------------------------------------------------- embed


@pytest.mark.parametrize("flag", ["--full", "--json"])
def test_embed_full_prints_the_vectors(env: dict[str, str], flag: str) -> None:
    result = run(env, "embed", EMBED_MODEL, "first text", "second", flag, "--local")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    body = json.loads(result.stdout)
    vectors = [item["embedding"] for item in body["data"]]
    assert len(vectors) == 2
    assert {len(v) for v in vectors} == {1024}
    assert all(isinstance(x, float) for x in vectors[0])


@pytest.mark.parametrize("flags", [[], ["--summary"]])
def test_embed_prints_a_summary_by_default(env: dict[str, str], flags: list[str]) -> None:
    result = run(env, "embed", "-", "first text", "second", *flags, "--local")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2  # not two thousand
    assert lines[0].startswith("0\t1024 dims\tnorm ")
    assert lines[0].endswith("\tfirst text")
    assert run(env, "embed", "-", "x", "--summary", "--full", "--local").returncode == 2


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "argv",
    [
        ["chat", "not a model", "hi"],
        ["image", "../etc/passwd", "a cat"],
        ["embed", "/leading-slash", "text"],
    ],
)
def test_invalid_model_name_is_a_usage_error(
    env: dict[str, str], emu: Emulator, argv: list[str]
) -> None:
    before = emu.request_count()
    result = run(env, *argv, *remote(emu))
    assert result.returncode == 2
    assert_one_error_line(result, "invalid model name")
    assert result.stdout == ""
    assert emu.request_count() == before


@pytest.mark.parametrize(
    "argv",
    [
        ["chat", "-", "hi"],
        ["image", "-", "a cat", "-o", "never-written.png"],
        ["embed", "-", "text"],
    ],
)
def test_missing_key_fails_before_sending(
    env: dict[str, str], trap: socket.socket, tmp_path: Path, argv: list[str]
) -> None:
    result = run(
        env, *argv, "--base-url", "https://api.deepinfra.com", "--timeout", "2", cwd=tmp_path
    )
    assert result.returncode == 1
    assert_one_error_line(result, "DEEPINFRA_API_KEY", "--local")
    assert _pending_connections(trap) == 0  # nothing was sent, not even a proxy CONNECT
    assert not list(tmp_path.iterdir())


def test_rejected_key(env: dict[str, str], emu: Emulator) -> None:
    result = run(env, "chat", "-", "hi", "--base-url", emu.url, "--api-key", "wrong-key")
    assert result.returncode == 1
    assert_one_error_line(result, "the API key was rejected", "DEEPINFRA_API_KEY")
    assert "no API key was sent" not in result.stderr


def test_no_key_sent_is_not_called_rejected(env: dict[str, str], emu: Emulator) -> None:
    # Loopback needs no key before sending; the emulator's 401 then means "none was sent".
    result = run(env, "chat", "-", "hi", "--base-url", emu.url)
    assert result.returncode == 1
    assert_one_error_line(result, "no API key was sent", "DEEPINFRA_API_KEY", "--local")
    assert "rejected" not in result.stderr


def test_unknown_model(env: dict[str, str]) -> None:
    result = run(env, "chat", "nobody/no-such-model", "hi", "--local")
    assert result.returncode == 1
    assert_one_error_line(result, "see `deepinfra models`")
    assert result.stdout == ""


def test_deprecated_model_names_its_replacement(env: dict[str, str], tmp_path: Path) -> None:
    result = run(env, "image", DEPRECATED, "a cat", "--local", cwd=tmp_path)
    assert result.returncode == 1
    assert_one_error_line(result, REPLACEMENT, "see `deepinfra models`")
    assert not list(tmp_path.iterdir())


def test_rate_limited(env: dict[str, str], emu: Emulator) -> None:
    emu.inject(Fault(status=429, retry_after="1"), times=1, route=CHAT_ROUTE)
    result = run(env, "chat", "-", "hi", "--max-retries", "0", *remote(emu))
    assert result.returncode == 1
    assert_one_error_line(result, "rate limited; retry later or lower concurrency")


def test_connection_refused_names_the_base_url(env: dict[str, str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    result = run(env, "embed", "-", "x", "--base-url", url, "--max-retries", "0")
    assert result.returncode == 1
    assert_one_error_line(result, f"cannot reach {url}")


def test_error_table_maps_classes_to_exit_codes() -> None:
    from deepinfra_sdk import APIStatusError, InternalServerError

    def code(err: BaseException) -> Optional[int]:
        outcome = cli._exit_for(err, "https://example.invalid")
        return None if outcome is None else outcome[0]

    assert code(InternalServerError("boom", status_code=503)) == 1
    assert code(APIStatusError("teapot", status_code=418)) == 1
    assert code(ValueError("bad")) == 2
    assert code(TypeError("bad")) == 2
    assert code(cli.UsageError("bad")) == 2
    assert code(RuntimeError("a bug")) is None  # bugs keep their traceback

    # An OSError from outside saving outputs (those say "cannot write PATH") or starting
    # the emulator is not described as a write.
    def message(err: BaseException) -> Optional[str]:
        outcome = cli._exit_for(err, "https://example.invalid")
        return None if outcome is None else outcome[1]

    assert code(OSError(errno.EMFILE, "Too many open files")) == 1
    assert message(OSError(errno.EMFILE, "Too many open files")) == (
        "system error: Too many open files"
    )
    assert message(FileNotFoundError(errno.ENOENT, "No such file or directory", "x.txt")) == (
        "system error: No such file or directory (x.txt)"
    )
    assert message(cli.CommandError("cannot write out.png: Is a directory")) == (
        "cannot write out.png: Is a directory"
    )


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (None, "n/a"),
        (0.0, "$0"),
        (0.0000268, "$0.0000268"),
        (1.5, "$1.5"),
        (2e-10, "$0.0000000002"),
    ],
)
def test_usd_never_uses_exponents(amount: Optional[float], text: str) -> None:
    assert cli._usd(amount) == text


# --------------------------------------------------------------------------- emulator, demo


def test_emulator_command_passes_its_options_through(env: dict[str, str]) -> None:
    result = run(env, "emulator", "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: deepinfra emulator")
    assert "--token-delay" in result.stdout
    result = run(env, "emulator", "--port", "99999")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_emulator_command_serves_in_the_foreground(env: dict[str, str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [*CLI, "emulator", "--port", str(port), "--no-auth"],
        env=env,
        cwd=str(ROOT),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=_default_sigint,  # noqa: PLW1509 - no threads touch the child
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "the emulator did not start"
                time.sleep(0.05)
        result = run(env, "models", "--type", "text", "--base-url", url)
        assert result.returncode == 0, result.stderr
        assert DEFAULT_MODEL in result.stdout.splitlines()
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=10)
        assert proc.returncode in (0, 130)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_demo_end_to_end(env: dict[str, str], tmp_path: Path) -> None:
    started = time.monotonic()
    result = run(env, "demo", cwd=tmp_path)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    images = list((tmp_path / "deepinfra-demo").iterdir())
    assert len(images) == 1
    assert png_size(images[0]) == (512, 512)
    out = result.stdout
    assert str(images[0]) in out
    assert "models:" in out
    assert DEFAULT_MODEL in out
    # Both prompts the demo sends are shown, each before its answer.
    lines = out.splitlines()
    asked = lines.index(f"   > {cli.DEMO_PROMPT}")
    assert "2. chat with" in lines[asked - 1] and lines[asked + 1].startswith("   ")
    assert f"{cli.DEMO_IMAGE_PROMPT!r}" in out.partition("3. image")[2].splitlines()[0]
    assert "usage.estimated_cost" in out
    assert "inference_status.cost" in out
    assert "total" in out
    assert "$" in out
    # Not a benchmark, only a guard against the demo turning slow (it takes about 1 s).
    assert elapsed < 20


def test_demo_total_is_the_meters_exact_sum_of_the_calls(
    env: dict[str, str], tmp_path: Path
) -> None:
    result = run(env, "demo", "--token-delay", "0", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    summary = result.stdout.split("4. cost summary (USD):\n", 1)[1].splitlines()
    amounts = {line.split()[0]: line.split()[1] for line in summary}
    assert set(amounts) == {"chat", "image", "total"}
    assert all(a.startswith("$") and "e" not in a for a in amounts.values())
    chat, image, total = (Decimal(amounts[k][1:]) for k in ("chat", "image", "total"))
    assert chat > 0 and image > 0
    assert total == chat + image
    tokens = re.search(r"(\d+) prompt \+ (\d+) completion tokens", summary[0])
    assert tokens is not None
    assert summary[2].endswith(
        f"client.usage: 2 requests, {int(tokens[1]) + int(tokens[2])} tokens"
    )


def test_verbose_cost_line_matches_the_calls_usage(env: dict[str, str]) -> None:
    result = run(env, "--verbose", "chat", "-", "Hi", "--max-tokens", "7", "--json", "--local")
    assert result.returncode == 0, result.stderr
    usage = json.loads(result.stdout)["usage"]
    line = next(x for x in result.stderr.splitlines() if " cost " in x)
    assert line == (
        f"deepinfra: chat cost ${Decimal(repr(usage['estimated_cost'])):f} "
        f"({usage['prompt_tokens']} prompt + 7 completion tokens)"
    )


def test_demo_out_dir_and_verbose(env: dict[str, str], tmp_path: Path) -> None:
    result = run(env, "demo", "--out-dir", str(tmp_path / "here"), "--verbose", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [p.name for p in (tmp_path / "here").iterdir()] == ["demo-image.png"]
    assert "deepinfra: chat cost $" in result.stderr
    assert "deepinfra: image cost $" in result.stderr
    assert not (tmp_path / "deepinfra-demo").exists()


def test_demo_ctrl_c_mid_stream_ends_the_line(env: dict[str, str], tmp_path: Path) -> None:
    heading = f"streamed as it arrives:\n   > {cli.DEMO_PROMPT}\n   ".encode()
    # The heading and a few words of the answer (24 tokens, 0.1 s apart: 2.5 s in all).
    code, stdout, stderr = _interrupt_once(
        [*CLI, "demo", "--out-dir", str(tmp_path), "--token-delay", "0.1"],
        env,
        lambda data: heading in data and len(data.partition(heading)[2]) >= 10,
    )
    assert code == 130, stderr
    assert stderr.splitlines() == ["deepinfra: interrupted"]
    # The partial answer line is ended, so "interrupted" does not land at its end.
    assert stdout.endswith("\n")
    partial = stdout.splitlines()[-1]
    assert partial.startswith("   ")
    with Emulator() as emu:  # deterministic: the same model and prompt give the same answer
        full = _sdk_answer(emu, cli.DEMO_PROMPT).strip()
    assert full.startswith(partial.strip())
    assert len(partial.strip()) < len(full)
    assert "3. image" not in stdout
    assert list(tmp_path.iterdir()) == []


def test_demo_token_delay_is_hidden_and_checked(env: dict[str, str]) -> None:
    result = run(env, "demo", "--help")
    assert result.returncode == 0
    assert "--token-delay" not in result.stdout
    for bad in ("-1", "nan", "inf", "soon"):
        result = run(env, "demo", "--token-delay", bad)
        assert result.returncode == 2
        assert "--token-delay" in result.stderr
        assert result.stdout == ""


def test_main_in_process_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"deepinfra {__version__}"


# --------------------------------------------------------------------------- audio and rerank


def test_speak_then_transcribe_round_trips(env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "hello.wav"
    result = run(env, "speak", "Hello from the command line.", "-o", str(out), "--local")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{out}\n" and result.stderr == ""
    assert out.read_bytes()[:4] == b"RIFF"
    result = run(env, "transcribe", str(out), "--local")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Hello from the command line.\n"
    result = run(env, "transcribe", str(out), "--format", "srt", "--local")
    assert result.stdout.startswith(
        "1\n00:00:00,000 --> 00:00:01,120\nHello from the command line."
    )
    result = run(env, "transcribe", str(out), "--format", "verbose_json", "--translate", "--local")
    body = json.loads(result.stdout)
    assert body["task"] == "translate" and body["text"] == "Hello from the command line."


def test_speak_format_errors(env: dict[str, str], tmp_path: Path) -> None:
    result = run(env, "speak", "hi", "-o", str(tmp_path / "x.mp3"), "--local")
    assert result.returncode == 1
    assert_one_error_line(result, "cannot encode mp3")
    assert not (tmp_path / "x.mp3").exists()
    result = run(env, "speak", "hi", "-o", str(tmp_path / "missing" / "x.wav"), "--local")
    assert result.returncode == 2
    result = run(env, "transcribe", str(tmp_path / "none.wav"), "--local")
    assert result.returncode == 2
    assert_one_error_line(result, "no audio file")


def test_rerank_prints_best_first(env: dict[str, str]) -> None:
    docs = ["Berlin is the capital of Germany.", "Paris is the capital of France.", "Cats."]
    result = run(env, "rerank", "capital of France", *docs, "--local")
    assert result.returncode == 0, result.stderr
    lines = [line.split("\t") for line in result.stdout.splitlines()]
    assert [int(index) for _, index, _ in lines] == [1, 0, 2]
    assert lines[0][2] == docs[1]
    assert [float(s) for s, _, _ in lines] == sorted((float(s) for s, _, _ in lines), reverse=True)
    result = run(env, "rerank", "capital of France", *docs, "--top-n", "1", "--json", "--local")
    body = json.loads(result.stdout)
    assert [r["index"] for r in body["results"]] == [1] and len(body["scores"]) == 3
