"""Show a streaming chat answer live in a Jupyter cell.

    from deepinfra_sdk import DeepInfraClient, display_stream

    client = DeepInfraClient()
    stream = client.chat.completions.create(model=..., messages=[...], stream=True)
    text = display_stream(stream)          # the cell output grows as tokens arrive

In a notebook kernel (Jupyter, JupyterLab, VS Code, Colab) the answer is one output that is
updated in place, as Markdown by default, at most every ``interval`` seconds plus once at the
end. Anywhere else (a script, a terminal IPython) the text is printed to stdout as it arrives.
IPython is used only when it is already loaded (a kernel always has it loaded): a script that
calls these helpers never imports it.

If the stream fails half-way, the text received so far stays on screen and the error propagates.
"""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Callable, Optional, Union

from ._exceptions import ArgumentTypeError, ArgumentValueError
from .types import ChatCompletionChunk, ImageResponse

if TYPE_CHECKING:
    from ._streaming import ChatStream
    from .aio import AsyncChatStream

__all__ = ["DEFAULT_INTERVAL", "adisplay_stream", "display_stream"]

DEFAULT_INTERVAL = 0.05
"""Seconds between two display updates: faster than the eye needs, slow enough that a fast
stream does not flood the notebook front end with thousands of messages."""

Item = Union[str, ChatCompletionChunk, ImageResponse]
"""What a displayed stream may yield: text pieces, chunks (first choice shown) or images."""
StreamSource = Union["ChatStream", Iterable[Item]]
"""What :func:`display_stream` accepts."""
AsyncStreamSource = Union["AsyncChatStream", AsyncIterable[Item]]
"""What :func:`adisplay_stream` accepts."""


def _kernel_display() -> Optional[Callable[..., Any]]:
    """IPython's ``display`` when running in a notebook kernel, else ``None``.

    ``sys.modules`` is consulted instead of importing IPython: a kernel has loaded it already,
    and a plain script should not pay for importing it.
    """
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return None
    shell = ipython.get_ipython()
    # Kernels (ipykernel and the front ends built on it) set `kernel`; a terminal IPython does
    # not, and there an updatable display would print the whole text again at every update.
    if shell is None or getattr(shell, "kernel", None) is None:
        return None
    from IPython.display import display

    return display


class _Live:
    """The growing text, shown in a display that is updated in place or printed as it comes."""

    def __init__(self, *, markdown: bool, interval: float) -> None:
        self._parts: list[str] = []
        self._markdown = markdown
        self._interval = interval
        self._shown = 0  # how many parts the display shows
        self._last = 0.0
        self._mid_line = False  # printing: the last character written was not a newline
        display = _kernel_display()
        self._display = display
        self._handle: Any = None
        if display is not None:
            self._handle = display(self._bundle(), raw=True, display_id=True)
            self._last = time.monotonic()

    def _bundle(self) -> dict[str, str]:
        text = self.text
        if self._markdown:
            return {"text/markdown": text, "text/plain": text}
        return {"text/plain": text}

    def add(self, piece: str) -> None:
        if not piece:
            return
        self._parts.append(piece)
        if self._handle is None:
            self._print(piece)
            return
        now = time.monotonic()
        if now - self._last >= self._interval:
            self._update(now)

    def _update(self, now: float) -> None:
        self._handle.update(self._bundle(), raw=True)
        self._shown = len(self._parts)
        self._last = now

    def _print(self, text: str) -> None:
        # Looked up at each write so that redirect_stdout and capture tools see it.
        sys.stdout.write(text)
        sys.stdout.flush()
        self._mid_line = not text.endswith("\n")

    def show(self, obj: object) -> None:
        """Show a non-text item (an image) as an output of its own, below the text."""
        if self._display is None:
            self._print(("\n" if self._mid_line else "") + repr(obj) + "\n")
        else:
            self._display(obj)

    @property
    def text(self) -> str:
        return "".join(self._parts)

    def finish(self) -> None:
        """Show the last pieces, also after an error."""
        if self._handle is None:
            if self._mid_line:
                self._print("\n")
        elif self._shown != len(self._parts):
            self._update(time.monotonic())


def _take(live: _Live, item: object) -> None:
    if isinstance(item, str):
        live.add(item)
    elif isinstance(item, ChatCompletionChunk):
        for choice in item.choices:
            if choice.index == 0 and choice.delta.content:
                live.add(choice.delta.content)
    elif isinstance(item, ImageResponse):
        live.show(item)
    else:
        raise ArgumentTypeError(
            f"display_stream shows text and images, but the stream yielded a "
            f"{type(item).__name__}: pass a chat stream (stream=True) or an iterable of str, "
            "ChatCompletionChunk or ImageResponse"
        )


def display_stream(
    stream: StreamSource, *, markdown: bool = True, interval: float = DEFAULT_INTERVAL
) -> str:
    """Show a chat stream's answer as it arrives and return the whole text.

    ``stream`` is a :class:`~deepinfra_sdk.ChatStream`, or any iterable of text pieces,
    chunks or :class:`~deepinfra_sdk.ImageResponse` (shown as outputs of their own). In a
    notebook kernel one output is updated in place, rendered as Markdown
    (``markdown=False`` shows plain text), at most every ``interval`` seconds and once at the
    end; elsewhere each piece is printed to stdout as it arrives. The stream is closed when
    this returns. If it fails half-way the text so far stays displayed and the error
    propagates (its ``partial_text`` holds the same text).
    """
    _check(interval)
    items = _sync_items(stream)
    live = _Live(markdown=markdown, interval=interval)
    try:
        for item in items:
            _take(live, item)
    finally:
        try:
            live.finish()
        finally:
            _close(items)
            _close(stream)
    return live.text


async def adisplay_stream(
    stream: AsyncStreamSource, *, markdown: bool = True, interval: float = DEFAULT_INTERVAL
) -> str:
    """The async twin of :func:`display_stream`, for an :class:`~deepinfra_sdk.AsyncChatStream`.

    Also accepts any async iterable of text pieces, chunks or images, such as
    ``DeepInfra.create_async_generator(...)`` for a text or an image model. Works on asyncio
    and trio; the display is updated from the event loop, which costs microseconds per update.
    """
    _check(interval)
    items = _async_items(stream)
    live = _Live(markdown=markdown, interval=interval)
    try:
        async for item in items:
            _take(live, item)
    finally:
        try:
            live.finish()
        finally:
            await _aclose(items)
            await _aclose(stream)
    return live.text


def _check(interval: float) -> None:
    # Checked before anything is displayed or read: a wrong call leaves no trace.
    if not interval >= 0:
        raise ArgumentValueError(f"interval must be a number of seconds >= 0, got {interval!r}")


def _sync_items(stream: StreamSource) -> Iterator[object]:
    if not hasattr(stream, "__iter__"):
        raise ArgumentTypeError(
            f"display_stream reads a sync stream, not a {type(stream).__name__}: for an async "
            "stream use `await adisplay_stream(stream)`"
        )
    iter_text = getattr(stream, "iter_text", None)
    source: Iterable[object] = iter_text() if callable(iter_text) else stream
    return iter(source)


def _async_items(stream: AsyncStreamSource) -> AsyncIterator[object]:
    if not hasattr(stream, "__aiter__"):
        # Reading a sync stream here would block the event loop for the whole answer.
        raise ArgumentTypeError(
            f"adisplay_stream reads an async stream, not a {type(stream).__name__}: for a sync "
            "stream use `display_stream(stream)`"
        )
    iter_text = getattr(stream, "iter_text", None)
    source: AsyncIterable[object] = iter_text() if callable(iter_text) else stream
    return source.__aiter__()


def _close(obj: object) -> None:
    close = getattr(obj, "close", None)
    if callable(close):
        close()


async def _aclose(obj: object) -> None:
    aclose = getattr(obj, "aclose", None)
    if callable(aclose):
        await aclose()
