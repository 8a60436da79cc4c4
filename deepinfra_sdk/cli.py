"""The ``deepinfra`` command line: models, chat, images and embeddings from a shell.

Commands::

    deepinfra models   [--type text|image|all] [--json]
    deepinfra chat     MODEL PROMPT [--system TEXT] [--max-tokens N] [--temperature T]
                       [--no-stream] [--json]
    deepinfra image    MODEL PROMPT [-o PATH] [--width W] [--height H] [--seed S]
                       [--num-images N] [--negative-prompt TEXT]
    deepinfra embed    MODEL TEXT... [--summary] [--dimensions N]
    deepinfra emulator [--host H] [--port P] [--token-delay S] [--framing F] [--api-key K]
                       [--no-auth]
    deepinfra demo     [--out-dir DIR]
    deepinfra batch    submit REQUESTS.jsonl --state RUN.json | status RUN.json
                       | results RUN.json [-o OUT.jsonl] | cancel RUN.json

``MODEL`` may be ``-`` or ``default`` for the command's default model. Every API command
takes ``--local`` (run against an in-process emulator: no key, no network, nothing billed),
``--base-url``, ``--api-key`` (prefer the ``DEEPINFRA_API_KEY`` environment variable: a
command line is visible to other users), ``--max-retries``, ``--timeout`` and ``--verbose``
(the cost of each call and the SDK's debug log on stderr).

Data goes to stdout; progress, the spinner and errors go to stderr. Exit codes: 0 success,
1 API error, 2 usage error (bad arguments, an invalid model name), 130 interrupted (Ctrl-C).
An error is reported as one line naming the fix, never as a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import logging
import math
import os
import re
import sys
import threading
import time
import unicodedata
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional, TypeVar, Union, get_args

from . import _constants as C
from ._error_body import error_message
from ._exceptions import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    MissingAPIKeyError,
    NotFoundError,
    RateLimitError,
)
from ._images import extension_for, format_mismatch
from ._streaming import ChatStream
from ._usage import format_usd
from ._validation import check_model_name
from ._version import __version__
from .client import DeepInfraClient
from .resources.audio import AudioFormat
from .types import ChatCompletion, ImageResponse, Model, Usage

if TYPE_CHECKING:
    from .emulator import Emulator

__all__ = ["build_parser", "main"]

PROG = "deepinfra"
EXIT_OK = 0
EXIT_API_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

_T = TypeVar("_T")
Handler = Callable[[argparse.Namespace], int]

DEMO_PROMPT = "In two sentences: what can I build with the DeepInfra API?"
DEMO_IMAGE_PROMPT = "a lighthouse on a rocky coast at dusk, oil painting"
DEMO_TOKEN_DELAY = 0.02  # seconds between the demo's streamed tokens: visibly a stream


class UsageError(Exception):
    """A problem with the command line that argparse cannot see (exit code 2)."""


class CommandError(Exception):
    """A failure outside the API (saving an output, starting the local emulator), already
    worded as the one line the user sees (exit code 1)."""


class StreamBroken(Exception):
    """A chat stream failed after part of the answer had been printed."""

    def __init__(self, error: APIError, received: int) -> None:
        super().__init__(str(error))
        self.error = error
        self.received = received


# --------------------------------------------------------------------------- output helpers


def _out(text: str) -> None:
    """Write data to stdout and flush, so a pipe sees it at once."""
    with _saving("stdout"):
        sys.stdout.write(text)
        sys.stdout.flush()


def _os_reason(err: OSError) -> str:
    """``No space left on device`` rather than ``[Errno 28] No space left on device: 'x'``."""
    return str(err.strerror or err)


@contextlib.contextmanager
def _saving(path: Union[str, os.PathLike[str]]) -> Iterator[None]:
    """Turn an OSError raised while saving an output into ``cannot write PATH: why``.

    PATH is the file the system names (the destination of a rename first), else ``path``,
    what the command was asked to write. A broken pipe passes through: the reader of stdout
    went away, which :func:`main` treats quietly.
    """
    try:
        yield
    except BrokenPipeError:
        raise
    except OSError as err:
        named = (
            n for n in (err.filename2, err.filename) if isinstance(n, (str, bytes, os.PathLike))
        )
        where = next(named, path)
        raise CommandError(f"cannot write {os.fsdecode(where)}: {_os_reason(err)}") from err


def _err(text: str) -> None:
    """Write one line of progress or diagnostics to stderr."""
    sys.stderr.write(f"{PROG}: {text}\n")
    sys.stderr.flush()


def _print_json(value: Any) -> None:
    _out(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def _usd(amount: Any) -> str:
    """``0.0000268`` -> ``$0.0000268``: every digit the server sent, never an exponent
    (``n/a`` when unknown)."""
    return format_usd(amount)


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # replaced or closed streams
        return False


def _stderr_is_tty() -> bool:
    return _is_terminal(sys.stderr)


def _with_spinner(label: str, work: Callable[[], _T]) -> _T:
    """Run ``work``; while it runs, show a spinner and the elapsed seconds on a TTY stderr.

    The request runs in a daemon worker thread and the main thread draws, so Ctrl-C still
    reaches the main thread at once. Without a TTY nothing is drawn and ``work`` runs here.
    """
    if not _stderr_is_tty():
        return work()
    result: list[_T] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            result.append(work())
        except BaseException as exc:  # handed to the main thread, re-raised there
            failure.append(exc)

    worker = threading.Thread(target=run, name="deepinfra-cli-request", daemon=True)
    frames = itertools.cycle("|/-\\")
    # The first frame goes out before the request starts, so a call that ends at once still
    # showed the user something, whatever the scheduler does with the two threads.
    sys.stderr.write(f"\r{next(frames)} {label} 0.0s")
    sys.stderr.flush()
    started = time.monotonic()
    worker.start()
    try:
        worker.join(0.1)
        while worker.is_alive():
            elapsed = time.monotonic() - started
            sys.stderr.write(f"\r{next(frames)} {label} {elapsed:.1f}s")
            sys.stderr.flush()
            worker.join(0.1)
    finally:
        sys.stderr.write("\r\x1b[K")
        sys.stderr.flush()
    if failure:
        raise failure[0]
    return result[0]


def _report_cost(args: argparse.Namespace, what: str, cost: Optional[float], detail: str) -> None:
    """With ``--verbose``, the cost of one call on stderr."""
    if getattr(args, "verbose", False):
        _err(f"{what} cost {_usd(cost)}{f' ({detail})' if detail else ''}")


def _usage_detail(usage: Optional[Usage]) -> str:
    if usage is None:
        return "no usage reported"
    return f"{usage.prompt_tokens} prompt + {usage.completion_tokens} completion tokens"


# --------------------------------------------------------------------------- client setup


def _model(name: str, default: str) -> str:
    """The model argument: ``-``/``default`` for the default, else a validated name."""
    if name in ("-", "default"):
        return default
    return check_model_name(name)


def _target(args: argparse.Namespace) -> str:
    """Where requests go, for error messages (never includes the key)."""
    if getattr(args, "local", False) or args.command == "demo":
        return "the local emulator"
    return str(
        args.base_url or os.environ.get(C.BASE_URL_ENV_VAR, "").strip() or C.DEFAULT_BASE_URL
    )


@contextlib.contextmanager
def _emulator(token_delay: Optional[float] = None) -> Iterator[Emulator]:
    """An in-process emulator on a free loopback port, stopped on exit."""
    from .emulator import Emulator

    kwargs: dict[str, Any] = {} if token_delay is None else {"token_delay": token_delay}
    emu = Emulator(**kwargs)
    try:
        emu.start()
    except OSError as err:  # no free port, no loopback, too many open files
        raise CommandError(f"cannot start the local emulator: {_os_reason(err)}") from err
    with emu:
        yield emu


@contextlib.contextmanager
def _client(
    args: argparse.Namespace, *, token_delay: Optional[float] = None
) -> Iterator[DeepInfraClient]:
    """The client a command uses: the configured API, or an in-process emulator (``--local``)."""
    with contextlib.ExitStack() as stack:
        api_key: Optional[str] = args.api_key
        base_url: Optional[str] = args.base_url
        if args.local or args.command == "demo":
            emu = stack.enter_context(_emulator(token_delay))
            api_key, base_url = emu.api_key, emu.url
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            client = DeepInfraClient(
                api_key=api_key,
                base_url=base_url,
                max_retries=args.max_retries,
                timeout=args.timeout,
            )
        for warning in caught:
            _err(f"warning: {warning.message}")
        stack.enter_context(client)
        yield client


# --------------------------------------------------------------------------- commands


def cmd_models(args: argparse.Namespace) -> int:
    """List the featured models, optionally only text or image ones; deprecated ones only
    with --include-deprecated, marked with their replacement."""
    everything = args.include_deprecated
    with _client(args) as client:
        models = client.models.list()
        if args.type == "text":
            names = set(client.models.text_models(include_deprecated=everything))
        elif args.type == "image":
            names = set(client.models.image_models(include_deprecated=everything))
        else:
            names = {m.model_name for m in models if everything or not m.is_deprecated}
    selected = [m for m in models if m.model_name in names]
    if args.json:
        _print_json([m.to_dict() for m in selected])
    else:
        _out("".join(f"{m.model_name}{_deprecation_mark(m)}\n" for m in selected))
    return EXIT_OK


def _deprecation_mark(model: Model) -> str:
    if not model.is_deprecated:
        return ""
    return f"  (deprecated: use {model.replaced_by})" if model.replaced_by else "  (deprecated)"


def _messages(args: argparse.Namespace) -> list[dict[str, str]]:
    prompt: str = args.prompt
    if prompt == "-":
        if _is_terminal(sys.stdin):
            # Otherwise the command looks stuck: it is waiting for the prompt to end.
            end = "Ctrl-Z then Enter" if os.name == "nt" else "Ctrl-D"
            _err(f"reading the prompt from the terminal: type it, then press {end} to send")
        prompt = sys.stdin.read()
    if not prompt.strip():
        raise UsageError("the prompt is empty: pass the text, or '-' to read it from stdin")
    messages = []
    if args.system:
        messages.append({"role": "system", "content": args.system})
    messages.append({"role": "user", "content": prompt})
    return messages


def cmd_chat(args: argparse.Namespace) -> int:
    """Ask a text model; stream the answer to stdout as it arrives."""
    model = _model(args.model, C.DEFAULT_MODEL)
    messages = _messages(args)
    options: dict[str, Any] = {"max_tokens": args.max_tokens, "temperature": args.temperature}
    # Reasoning is for a reader: shown on a terminal, never mixed into piped output.
    reasoning = not args.no_reasoning and _is_terminal(sys.stdout)
    with _client(args) as client:
        if args.no_stream:
            completion = _with_spinner(
                "waiting for the answer",
                lambda: client.chat.completions.create(model=model, messages=messages, **options),
            )
        else:
            with client.chat.completions.create(
                model=model, messages=messages, stream=True, **options
            ) as stream:
                try:
                    completion = _consume_stream(stream, echo=not args.json, reasoning=reasoning)
                except KeyboardInterrupt:
                    if args.json:
                        # What arrived is printed, marked, rather than lost with the rest.
                        partial = stream.to_completion().to_dict()
                        _print_json({**partial, "interrupted": True})
                    raise
    if args.json:
        _print_json(completion.to_dict())
    elif args.no_stream:
        thought = completion.choices[0].message.reasoning_content if completion.choices else None
        if reasoning and thought:
            _out(f"{_styled(_DIM)}{thought}{_styled(_PLAIN)}\n\n")
        _out(completion.text + "\n")
    usage = completion.usage
    _report_cost(args, "chat", usage.estimated_cost if usage else None, _usage_detail(usage))
    return EXIT_OK


# Reasoning is shown dimmed (SGR 2), so the answer stands out; NO_COLOR turns styling off.
_DIM = "\x1b[2m"
_PLAIN = "\x1b[0m"


def _styled(code: str) -> str:
    return "" if os.environ.get("NO_COLOR") else code


def _consume_stream(
    stream: ChatStream, *, echo: bool, indent: str = "", reasoning: bool = False
) -> ChatCompletion:
    """Read a chat stream to its end, echoing the text to stdout as it arrives, then a newline.

    With ``reasoning``, a reasoning model's thinking is echoed too, dimmed, as it arrives,
    and the answer starts below it. With ``indent``, each echoed block starts with it and
    loses its leading whitespace (answers often start with a space). What was printed
    stays printed: a failure after part of the answer was echoed ends the line and becomes
    :class:`StreamBroken`, and Ctrl-C ends the line before it propagates (the caller's
    ``with stream:`` closes the connection).
    """
    started = False  # part of a line is on stdout (set before the write: Ctrl-C may hit it)
    thinking = False  # the dimmed reasoning is open on stdout
    fresh = True  # the next piece starts a block: it gets the indent

    def write(piece: str) -> None:
        nonlocal started, fresh
        if fresh and indent:
            piece = indent + piece.lstrip()
        started, fresh = True, False
        _out(piece)

    try:
        if echo:
            for chunk in stream:
                for choice in chunk.choices:
                    if choice.index != 0:
                        continue
                    delta = choice.delta
                    if reasoning and delta.reasoning_content:
                        if not thinking:
                            thinking = True
                            _out(_styled(_DIM))
                        write(delta.reasoning_content)
                    if delta.content:
                        if thinking:
                            thinking, fresh = False, True
                            _out(_styled(_PLAIN) + "\n\n")
                        write(delta.content)
        else:
            for _ in stream:
                pass
    except APIError as err:
        if not started:
            raise  # nothing was printed: a plain API error
        _out((_styled(_PLAIN) if thinking else "") + "\n")
        raise StreamBroken(err, len(stream.text)) from err
    except KeyboardInterrupt:
        if started:
            # Keep the "interrupted" line and the shell prompt off the answer (and undimmed).
            _out((_styled(_PLAIN) if thinking else "") + "\n")
        raise
    if echo:
        _out((_styled(_PLAIN) if thinking else "") + "\n")
    return stream.to_completion()


def _default_image_path(prompt: str) -> Path:
    """A file name from the prompt, without suffix (``save`` adds the sniffed one).

    Letters of every script are kept (``niño café`` gives ``niño-café``, not ``ni-o-caf``);
    everything else, path separators included, becomes ``-``.
    """
    words = re.sub(r"[\W_]+", "-", unicodedata.normalize("NFC", prompt).lower())
    slug = words.strip("-")[:48].rstrip("-")
    return Path(slug or "image")


def _save_images(image: ImageResponse, target: Path) -> list[str]:
    """Write inline images to ``target`` (``stem-i`` for several); URLs are passed on as is.

    A suffix naming another format than the image's (``-o fox.jpg`` for a PNG) is replaced
    by the right one, with a warning line: the image was paid for, so it is written, as it
    came (the CLI converts no formats).
    """
    written: list[str] = []
    many = len(image.images) > 1
    for index, item in enumerate(image.images):
        if _is_url(item):
            written.append(item)
            continue
        dest = target.with_name(f"{target.stem}-{index}{target.suffix}") if many else target
        problem = format_mismatch(dest.suffix, image.media_type(index))
        if problem is not None:
            fixed = dest.with_suffix(extension_for(image.media_type(index)))
            _err(f"warning: {problem}: writing {str(fixed)!r} instead of {str(dest)!r}")
            dest = fixed
        with _saving(dest):
            written.extend(str(p) for p in image.save(dest, index=index))
    return written


def _is_url(image: str) -> bool:
    return image.startswith(("http://", "https://"))


def cmd_image(args: argparse.Namespace) -> int:
    """Generate image(s), write them to files, print the paths."""
    model = _model(args.model, C.DEFAULT_IMAGE_MODEL)
    target = Path(args.output) if args.output else _default_image_path(args.prompt)
    if not target.parent.is_dir():
        # Checked before the request: a paid image must not be lost to a typo in a path.
        raise UsageError(f"the output directory {str(target.parent)!r} does not exist")
    with _client(args) as client:
        image = _with_spinner(
            "generating",
            lambda: client.images.generate(
                args.prompt,
                model=model,
                width=args.width,
                height=args.height,
                seed=args.seed,
                num_images=args.num_images,
                negative_prompt=args.negative_prompt,
            ),
        )
    paths = _save_images(image, target)
    _out("".join(f"{p}\n" for p in paths))
    status = image.inference_status
    _report_cost(
        args,
        "image",
        status.cost if status else None,
        f"{len(image.images)} image(s), {status.runtime_ms} ms" if status else "",
    )
    return EXIT_OK


def cmd_embed(args: argparse.Namespace) -> int:
    """Embed texts; print one summary line per text, or with --full the vectors as JSON
    (a thousand numbers a text would bury the terminal)."""
    model = _model(args.model, C.DEFAULT_EMBEDDING_MODEL)
    with _client(args) as client:
        result = client.embeddings.create(
            model=model, input=list(args.texts), dimensions=args.dimensions
        )
    if not args.full:
        for item in result.data:
            vector = item.embedding
            norm = math.sqrt(sum(x * x for x in vector))
            text = args.texts[item.index] if item.index < len(args.texts) else ""
            _out(f"{item.index}\t{len(vector)} dims\tnorm {norm:.4f}\t{text[:60]}\n")
    else:
        _print_json(result.to_dict())
    usage = result.usage
    detail = f"{usage.prompt_tokens} tokens" if usage else "no usage reported"
    _report_cost(args, "embeddings", usage.estimated_cost if usage else None, detail)
    return EXIT_OK


def cmd_transcribe(args: argparse.Namespace) -> int:
    """Transcribe (or translate) an audio file; print the text, subtitles or JSON."""
    model = _model(args.model, C.DEFAULT_TRANSCRIPTION_MODEL)
    if not Path(args.file).is_file():
        raise UsageError(f"no audio file at {args.file!r}")
    with _client(args) as client:
        if args.translate:
            audio: Any = client.audio.translations
            options = {}
        else:
            audio, options = client.audio.transcriptions, {"language": args.language}
        result = _with_spinner(
            "transcribing",
            lambda: audio.create(
                file=Path(args.file), model=model, response_format=args.format, **options
            ),
        )
    if isinstance(result, str):
        _out(result if result.endswith("\n") else result + "\n")
    elif args.format == "json":
        _out(result.text + "\n")
    else:
        _print_json(result.to_dict())
    return EXIT_OK


# The formats speech.create takes, from its signature's own Literal.
_AUDIO_FORMATS: tuple[str, ...] = get_args(AudioFormat)


def cmd_speak(args: argparse.Namespace) -> int:
    """Speak a text into an audio file, written as it arrives; print the path."""
    model = _model(args.model, C.DEFAULT_SPEECH_MODEL)
    target = Path(args.output)
    if not target.parent.is_dir():
        raise UsageError(f"the output directory {str(target.parent)!r} does not exist")
    suffix = target.suffix.lstrip(".").lower()
    fmt: Any = args.format or (suffix if suffix in _AUDIO_FORMATS else "wav")
    with _client(args) as client, _saving(target):
        path = _with_spinner(
            "speaking",
            lambda: client.audio.speech.stream_to_file(
                target,
                input=args.text,
                model=model,
                voice=args.voice,
                response_format=fmt,
                speed=args.speed,
            ),
        )
    _out(f"{path}\n")
    return EXIT_OK


def cmd_rerank(args: argparse.Namespace) -> int:
    """Rank documents by relevance to a query; print score, index and document, best first."""
    model = _model(args.model, C.DEFAULT_RERANK_MODEL)
    with _client(args) as client:
        result = client.rerank.create(
            model=model, query=args.query, documents=list(args.documents), top_n=args.top_n
        )
    if args.json:
        _print_json(result.to_dict())
    else:
        _out("".join(f"{r.score:.4f}\t{r.index}\t{r.document}\n" for r in result.results))
    status = result.inference_status
    _report_cost(args, "rerank", status.cost if status else None, f"{result.input_tokens} tokens")
    return EXIT_OK


def cmd_emulator(args: argparse.Namespace) -> int:
    """Run the emulator in the foreground (its own options follow ``emulator``)."""
    from .emulator import main as emulator_main

    try:
        return int(emulator_main(list(args.emulator_args), prog=f"{PROG} emulator"))
    except SystemExit as exc:  # its parser's --help and usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE


def cmd_demo(args: argparse.Namespace) -> int:
    """Tour the SDK against an in-process emulator: models, a streamed chat, an image, costs."""
    with _saving(args.out_dir or "deepinfra-demo"):
        out_dir = Path(args.out_dir) if args.out_dir else Path.cwd() / "deepinfra-demo"
        out_dir.mkdir(parents=True, exist_ok=True)
    _out(
        f"deepinfra {__version__} demo, against a local emulator: no key, no network, "
        "nothing billed (costs below are what the emulator reports)\n\n"
    )
    with _client(args, token_delay=args.token_delay) as client:
        text_models = client.models.text_models()
        image_models = client.models.image_models()
        examples = text_models[:2] + image_models[:2]  # deprecated ones are left out
        _out(
            f"1. models: {len(text_models)} text, {len(image_models)} image "
            f"(e.g. {', '.join(examples)})\n\n"
        )

        _out(f"2. chat with {C.DEFAULT_MODEL}, streamed as it arrives:\n   > {DEMO_PROMPT}\n")
        with client.chat.completions.create(
            model=C.DEFAULT_MODEL,
            messages=[{"role": "user", "content": DEMO_PROMPT}],
            stream=True,
        ) as stream:
            usage = _consume_stream(stream, echo=True, indent="   ").usage
        _out("\n")
        chat_cost = usage.estimated_cost if usage else None
        _report_cost(args, "chat", chat_cost, _usage_detail(usage))

        _out(f"3. image with {C.DEFAULT_IMAGE_MODEL}: {DEMO_IMAGE_PROMPT!r}\n")
        image = _with_spinner(
            "generating",
            lambda: client.images.generate(
                DEMO_IMAGE_PROMPT, model=C.DEFAULT_IMAGE_MODEL, width=512, height=512, seed=7
            ),
        )
        with _saving(out_dir / "demo-image"):
            path = image.save(out_dir / "demo-image")[0]
            size = path.stat().st_size
        image_cost = image.inference_status.cost if image.inference_status else None
        _out(f"   wrote {path} (512x512, {size} bytes)\n\n")
        _report_cost(args, "image", image_cost, "")
        # The client's meter summed every call exactly (see deepinfra_sdk/_usage.py).
        spent = client.usage.snapshot()

    tokens = _usage_detail(usage)
    _out(
        "4. cost summary (USD):\n"
        f"   chat   {_usd(chat_cost):>14}  usage.estimated_cost, {tokens}\n"
        f"   image  {_usd(image_cost):>14}  inference_status.cost\n"
        f"   total  {_usd(spent.cost_exact):>14}  client.usage: {spent.requests} requests, "
        f"{spent.total_tokens} tokens\n"
    )
    return EXIT_OK


# --------------------------------------------------------------------------- errors


def _auth_message(err: AuthenticationError, target: str) -> str:
    if isinstance(err, MissingAPIKeyError):
        return (
            f"no API key was sent to {target}: set DEEPINFRA_API_KEY (or pass --api-key), "
            "or use --local to try the built-in emulator"
        )
    # The server's own words; the error's message speaks to Python callers (api_key=...).
    said = error_message(err.body) or f"HTTP {err.status_code}"
    return f"the API key was rejected by {target} ({said}): check DEEPINFRA_API_KEY or --api-key"


def _connection_message(err: APIConnectionError, target: str) -> str:
    what = "timed out talking to" if isinstance(err, APITimeoutError) else "cannot reach"
    # A failed connect already says to check DEEPINFRA_BASE_URL; the CLI adds its option.
    hint = (
        "--base-url" if "DEEPINFRA_BASE_URL" in err.message else "--base-url / DEEPINFRA_BASE_URL"
    )
    return f"{what} {target}: {err.message} (check {hint})"


def _broken_message(err: StreamBroken, target: str) -> str:
    return (
        f"the stream broke after {err.received} characters (the text above is all that "
        f"arrived): {err.error}"
    )


def _os_message(err: OSError, target: str) -> str:
    # Saving outputs and starting the emulator raise CommandError: this is anything else.
    named = err.filename2 or err.filename
    where = f" ({os.fsdecode(named)})" if isinstance(named, (str, bytes, os.PathLike)) else ""
    return f"system error: {_os_reason(err)}{where}"


# The first matching class decides the exit code and the message; order matters.
_ERRORS: tuple[tuple[type[BaseException], int, Callable[[Any, str], str]], ...] = (
    (StreamBroken, EXIT_API_ERROR, _broken_message),
    (CommandError, EXIT_API_ERROR, lambda e, t: str(e)),
    (AuthenticationError, EXIT_API_ERROR, _auth_message),
    (NotFoundError, EXIT_API_ERROR, lambda e, t: f"{e}; see `deepinfra models`"),
    (
        RateLimitError,
        EXIT_API_ERROR,
        lambda e, t: f"rate limited; retry later or lower concurrency ({e})",
    ),
    (APIConnectionError, EXIT_API_ERROR, _connection_message),
    (APIError, EXIT_API_ERROR, lambda e, t: str(e)),
    (UsageError, EXIT_USAGE, lambda e, t: str(e)),
    (ValueError, EXIT_USAGE, lambda e, t: str(e)),
    (TypeError, EXIT_USAGE, lambda e, t: str(e)),
    (OSError, EXIT_API_ERROR, _os_message),
)


def _exit_for(err: BaseException, target: str) -> Optional[tuple[int, str]]:
    """The exit code and the one-line message for an error, or None if it is a bug."""
    for cls, code, describe in _ERRORS:
        if isinstance(err, cls):
            return code, " ".join(describe(err, target).split())
    return None


# --------------------------------------------------------------------------- parser


def _api_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """Options shared by the API commands; on a subcommand they default to SUPPRESS so a
    value given before the subcommand name is not overwritten."""

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--local",
        action="store_true",
        default=default(False),
        help="run against an in-process emulator (no key, no network, nothing billed)",
    )
    where.add_argument(
        "--base-url",
        default=default(None),
        metavar="URL",
        help=f"API root (default: $DEEPINFRA_BASE_URL or {C.DEFAULT_BASE_URL})",
    )
    parser.add_argument(
        "--api-key",
        default=default(None),
        metavar="KEY",
        help="API key (default: $DEEPINFRA_API_KEY; prefer the variable, argv is visible)",
    )
    parser.add_argument(
        "--max-retries",
        type=int,
        default=default(C.DEFAULT_MAX_RETRIES),
        metavar="N",
        help=f"retries for requests that provably did not bill (default {C.DEFAULT_MAX_RETRIES})",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=default(None),
        metavar="SECONDS",
        help="connect and read timeout (default: the SDK's)",
    )


def _verbose_option(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="print each call's cost and the SDK's debug log to stderr",
    )


def _seconds(text: str) -> float:
    """A non-negative, finite number of seconds (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 <= value < math.inf:
        raise argparse.ArgumentTypeError(f"expected a number of seconds >= 0, not {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every command."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="DeepInfra from the command line. Try `deepinfra demo` (no key needed).",
        epilog="Exit codes: 0 ok, 1 API error, 2 usage error, 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    _verbose_option(parser, suppress=False)
    _api_options(parser, suppress=False)

    api = argparse.ArgumentParser(add_help=False)
    _verbose_option(api, suppress=True)
    _api_options(api, suppress=True)
    quiet = argparse.ArgumentParser(add_help=False)
    _verbose_option(quiet, suppress=True)

    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("models", parents=[api], help="list the featured models")
    p.add_argument("--type", choices=("text", "image", "all"), default="all")
    p.add_argument("--json", action="store_true", help="print the model entries as JSON")
    p.add_argument(
        "--include-deprecated",
        action="store_true",
        help="also list deprecated models, marked with their replacement",
    )
    p.set_defaults(handler=cmd_models)

    p = sub.add_parser("chat", parents=[api], help="ask a text model (streams the answer)")
    p.add_argument("model", help=f"model name, or '-' for {C.DEFAULT_MODEL}")
    p.add_argument("prompt", help="the question, or '-' to read it from stdin")
    p.add_argument("--system", metavar="TEXT", help="a system message")
    p.add_argument("--max-tokens", type=int, metavar="N")
    p.add_argument("--temperature", type=float, metavar="T")
    p.add_argument("--no-stream", action="store_true", help="wait for the whole answer")
    p.add_argument(
        "--no-reasoning",
        action="store_true",
        help="hide a reasoning model's thinking (shown dimmed on a terminal by default)",
    )
    p.add_argument("--json", action="store_true", help="print the completion as JSON")
    p.set_defaults(handler=cmd_chat)

    p = sub.add_parser("image", parents=[api], help="generate images into files")
    p.add_argument("model", help=f"model name, or '-' for {C.DEFAULT_IMAGE_MODEL}")
    p.add_argument("prompt", help="what to draw")
    p.add_argument(
        "-o",
        "--output",
        metavar="PATH",
        help="file to write (default: named after the prompt; several images get -0, -1, ...)",
    )
    p.add_argument("--width", type=int, metavar="W")
    p.add_argument("--height", type=int, metavar="H")
    p.add_argument("--seed", type=int, metavar="S")
    p.add_argument("--num-images", type=int, metavar="N", help="1 to 4")
    p.add_argument("--negative-prompt", metavar="TEXT")
    p.set_defaults(handler=cmd_image)

    p = sub.add_parser(
        "embed", parents=[api], help="embed texts (a summary line per text; --full: vectors)"
    )
    p.add_argument("model", help=f"model name, or '-' for {C.DEFAULT_EMBEDDING_MODEL}")
    p.add_argument("texts", nargs="+", metavar="TEXT")
    shape = p.add_mutually_exclusive_group()
    shape.add_argument(
        "--summary", action="store_true", help="one line per text: dims and norm (the default)"
    )
    shape.add_argument(
        "--full", "--json", dest="full", action="store_true", help="print the vectors, as JSON"
    )
    p.add_argument("--dimensions", type=int, metavar="N", help="ask for shorter vectors")
    p.set_defaults(handler=cmd_embed)

    p = sub.add_parser("transcribe", parents=[api], help="speech to text from an audio file")
    p.add_argument("file", help="the audio file (wav, mp3, flac, ogg, m4a, webm)")
    p.add_argument("--model", default="-", help=f"default {C.DEFAULT_TRANSCRIPTION_MODEL}")
    p.add_argument("--language", metavar="CODE", help="the spoken language, e.g. en")
    p.add_argument(
        "--format", choices=("json", "text", "srt", "vtt", "verbose_json"), default="json"
    )
    p.add_argument("--translate", action="store_true", help="translate into English")
    p.set_defaults(handler=cmd_transcribe)

    p = sub.add_parser("speak", parents=[api], help="text to speech into an audio file")
    p.add_argument("text", help="what to say")
    p.add_argument("-o", "--output", metavar="PATH", required=True, help="e.g. out.wav")
    p.add_argument("--model", default="-", help=f"default {C.DEFAULT_SPEECH_MODEL}")
    p.add_argument("--voice", metavar="NAME", help="e.g. af_bella")
    p.add_argument(
        "--format",
        choices=_AUDIO_FORMATS,
        help="the audio format (default: from the output's suffix, else wav)",
    )
    p.add_argument("--speed", type=float, metavar="X", help="0.25 to 4")
    p.set_defaults(handler=cmd_speak)

    p = sub.add_parser("rerank", parents=[api], help="rank documents by relevance to a query")
    p.add_argument("query")
    p.add_argument("documents", nargs="+", metavar="DOC")
    p.add_argument("--model", default="-", help=f"default {C.DEFAULT_RERANK_MODEL}")
    p.add_argument("--top-n", type=int, metavar="N", help="print only the best N")
    p.add_argument("--json", action="store_true", help="print the whole answer as JSON")
    p.set_defaults(handler=cmd_rerank)

    # Everything after `emulator` goes to the emulator's own parser (try `emulator --help`).
    p = sub.add_parser(
        "emulator",
        add_help=False,
        prefix_chars="\0",
        help="run the local emulator in the foreground (--host --port --token-delay ...)",
    )
    p.add_argument("emulator_args", nargs=argparse.REMAINDER)
    p.set_defaults(handler=cmd_emulator)

    p = sub.add_parser(
        "demo", parents=[quiet], help="a tour against a local emulator: chat, image, costs"
    )
    p.add_argument(
        "--out-dir", metavar="DIR", help="where the image goes (default ./deepinfra-demo)"
    )
    # Hidden: slows the chat stream down, so a test can interrupt it midway.
    p.add_argument("--token-delay", type=_seconds, default=DEMO_TOKEN_DELAY, help=argparse.SUPPRESS)
    p.set_defaults(handler=cmd_demo)

    from ._cli_batch import add_batch_parser

    add_batch_parser(sub, api)
    return parser


# --------------------------------------------------------------------------- entry point


@contextlib.contextmanager
def _sdk_logging(enabled: bool) -> Iterator[None]:
    """With ``--verbose``, the ``deepinfra_sdk`` logger at DEBUG on stderr."""
    if not enabled:
        yield
        return
    logger = logging.getLogger(C.LOGGER_NAME)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"{PROG}: %(levelname)s %(name)s: %(message)s"))
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; returns the exit code (``deepinfra = deepinfra_sdk.cli:main``)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    handler: Optional[Handler] = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        with _sdk_logging(args.verbose):
            return handler(args)
    except KeyboardInterrupt:
        _err("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`deepinfra models | head -1`): not an error worth a line.
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return EXIT_API_ERROR
    except Exception as exc:
        outcome = _exit_for(exc, _target(args))
        if outcome is None:
            raise
        code, message = outcome
        _err(f"error: {message}")
        return code


if __name__ == "__main__":
    raise SystemExit(main())
