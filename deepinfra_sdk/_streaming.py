"""ChatStream: an SSE chat response turned into typed chunks, with nothing received lost.

Bytes come from the transport as the socket delivers them, the SSE decoder turns them into
events, and each event's JSON becomes a :class:`~deepinfra_sdk.types.ChatCompletionChunk`
through the fast ``from_wire`` constructor. The stream accumulates as it goes, so the text,
reasoning, tool calls, finish reason and usage are there after the loop, and the text that
arrived before an error is kept on the stream and on the error (``partial_text``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Generic, Optional

from . import _constants as C
from ._error_body import decode_body, error_message, is_error_frame, stream_error
from ._exceptions import APIConnectionError, APIError, APIResponseValidationError
from ._sse import SSEDecoder
from ._usage import StreamTally, UsageMeter
from .types import (
    ChatChoice,
    ChatCompletion,
    ChatCompletionChunk,
    ChatMessage,
    ChoiceLogprobs,
    FunctionCall,
    TokenLogprob,
    ToolCall,
    ToolCallDelta,
    Usage,
)

if TYPE_CHECKING:
    from typing_extensions import Self, TypeVar

    # What a stream yields: chat chunks unless said otherwise, so a bare ``ChatStream``
    # annotation still means the chat stream (text completions stream ``Completion``).
    ChunkT = TypeVar("ChunkT", default=ChatCompletionChunk)
else:
    from typing import TypeVar

    ChunkT = TypeVar("ChunkT")

__all__ = ["ChatStream"]

logger = logging.getLogger(C.LOGGER_NAME)

_DONE = "[DONE]"

# The C scanner behind json.loads, called directly: json.loads spends about half its time
# per small chunk in Python-level wrapping (two regex scans and a method chain).
_scan_once: Callable[[str, int], tuple[Any, int]] = getattr(json.JSONDecoder(), "scan_once")  # noqa: B009 - untyped in typeshed


def _parse_json(payload: str) -> Any:
    """Parse one frame's JSON; raises ValueError when it is not a single JSON value."""
    try:
        obj, end = _scan_once(payload, 0)
    except StopIteration:
        return json.loads(payload)  # leading whitespace, or invalid: json.loads decides
    if end != len(payload) and payload[end:].strip():
        raise ValueError(f"extra data after the JSON value at {end}")
    return obj


class _ToolCallBuilder:
    """Concatenates the fragments of one streamed tool call."""

    __slots__ = ("arguments", "id", "name", "type")

    def __init__(self) -> None:
        self.id = ""
        self.type = "function"
        self.name = ""
        self.arguments: list[str] = []

    def add(self, delta: ToolCallDelta) -> None:
        if delta.id:
            self.id = _text(delta.id, "tool call id")
        if delta.type:
            self.type = _text(delta.type, "tool call type")
        fn = delta.function
        if fn is not None:
            if fn.name:
                self.name += _text(fn.name, "function name")
            if fn.arguments:
                self.arguments.append(_text(fn.arguments, "function arguments"))

    def build(self) -> ToolCall:
        return ToolCall(
            id=self.id,
            type=self.type,
            function=FunctionCall(name=self.name, arguments="".join(self.arguments)),
        )


def _text(value: Any, what: str) -> str:
    if type(value) is not str:
        raise APIResponseValidationError(f"a stream chunk's {what} is not text: {value!r:.100}")
    return value


def _index(value: Any, what: str) -> int:
    if type(value) is not int:
        raise APIResponseValidationError(
            f"a stream chunk has a {what} index that is not a number: {value!r:.100}"
        )
    return value


def _joined(parts: list[str]) -> str:
    # Collapse the pieces in place, so reading .text after every chunk stays linear.
    if len(parts) > 1:
        parts[:] = ["".join(parts)]
    return parts[0] if parts else ""


class _Choice:
    """What has arrived so far for one choice index."""

    __slots__ = ("content", "finish_reason", "logprobs", "reasoning", "role", "tools")

    def __init__(self) -> None:
        self.content: list[str] = []
        self.logprobs: Optional[list[TokenLogprob]] = None
        self.reasoning: list[str] = []
        self.tools: dict[int, _ToolCallBuilder] = {}
        self.finish_reason: Optional[str] = None
        self.role = "assistant"


class ChatStream(Generic[ChunkT]):
    """A streaming chat completion: iterate it for ``ChatCompletionChunk`` objects.

    Use it as a context manager (or call :meth:`close`) so the connection goes back to the
    pool; breaking out early and closing leaks nothing. After (or during) iteration the
    accumulated result is available: :attr:`text`, :attr:`reasoning`, :attr:`finish_reason`,
    :attr:`usage` (with ``estimated_cost``), :attr:`tool_calls`, :meth:`to_completion`.

    Errors while streaming (a dropped connection, an in-stream error frame, a malformed
    frame) raise the SDK's typed error with ``partial_text`` set; :attr:`text` keeps it too.
    """

    # What each event decodes to (a subclass streams another kind of chunk).
    _chunk_class: ClassVar[Any] = ChatCompletionChunk

    def __init__(self, response: Any, *, model: str, meter: Optional[UsageMeter] = None) -> None:
        self._response = response
        self._decoder = SSEDecoder()
        self._choices: dict[int, _Choice] = {}
        self._reader: Optional[Iterator[Any]] = None
        self._mode = ""
        # Set while the async facade's reader thread reads this stream (see _pump.py):
        # closing then goes through it, since only that thread may touch the connection.
        self._pump: Optional[Any] = None
        self.id = ""
        self.model = model
        self.created = 0
        self.usage: Optional[Usage] = None
        #: The service tier that served the stream, once the server says.
        self.service_tier: Optional[str] = None
        self.done = False
        # [DONE] was read (the caller may not have decoded what came before it yet).
        self._done_read = False
        self.closed = False
        self.chunks_received = 0
        # Counts this stream in the client's usage meter once (see _usage.py).
        self._tally = StreamTally(meter, model)

    @classmethod
    def opened(cls, response: Any, *, model: str, meter: Optional[UsageMeter] = None) -> Self:
        """The stream of ``response``, once its content type says it is an event stream
        (a proxy's error page, or a server that ignored ``stream``, raises at once)."""
        content_type = response.headers.get("content-type", "")
        if content_type and not content_type.startswith("text/event-stream"):
            body = decode_body(response.read())
            raise APIResponseValidationError(
                f"expected an event stream but the server sent {content_type}: "
                f"{error_message(body) or 'no error message in the body'}",
                status_code=response.status_code,
                body=body,
                request_id=response.request_id,
            )
        return cls(response, model=model, meter=meter)

    # -- public accumulated state --------------------------------------------------------

    @property
    def request_id(self) -> Optional[str]:
        """The server's request id for this stream, when it sent one."""
        rid: Optional[str] = getattr(self._response, "request_id", None)
        return rid

    @property
    def response(self) -> Any:
        """The underlying ``requests.Response`` (headers, status)."""
        return getattr(self._response, "response", self._response)

    def _choice(self, index: int = 0) -> _Choice:
        return self._choices.get(index) or _Choice()

    @property
    def text(self) -> str:
        """The content received so far for the first choice (all of it after the end)."""
        return _joined(self._choice().content)

    @property
    def reasoning(self) -> str:
        """The reasoning text received so far (``reasoning_content`` deltas)."""
        return _joined(self._choice().reasoning)

    @property
    def finish_reason(self) -> Optional[str]:
        """Why the first choice ended (``stop``, ``length``, ``tool_calls``), once known."""
        return self._choice().finish_reason

    @property
    def tool_calls(self) -> list[ToolCall]:
        """The first choice's tool calls, assembled from their streamed fragments."""
        tools = self._choice().tools
        return [tools[i].build() for i in sorted(tools)]

    def texts(self) -> dict[int, str]:
        """The content received so far for every choice index (for ``n`` > 1)."""
        return {i: _joined(c.content) for i, c in sorted(self._choices.items())}

    def to_completion(self) -> ChatCompletion:
        """The whole answer as a ``ChatCompletion``, as a non-streaming call returns it."""
        choices = []
        for index, acc in sorted(self._choices.items()):
            tools = [acc.tools[i].build() for i in sorted(acc.tools)]
            message = ChatMessage(
                role=acc.role,
                # As a whole answer has it: null content beside tool calls.
                content=_joined(acc.content) or (None if tools else ""),
                reasoning_content=_joined(acc.reasoning) or None,
                tool_calls=tools or None,
                name=None,
                tool_call_id=None,
            )
            logprobs = None if acc.logprobs is None else ChoiceLogprobs(content=acc.logprobs)
            choices.append(
                ChatChoice(
                    index=index,
                    message=message,
                    finish_reason=acc.finish_reason,
                    logprobs=logprobs,
                )
            )
        completion = ChatCompletion(
            id=self.id,
            object="chat.completion",
            created=self.created,
            model=self.model,
            choices=choices,
            usage=self.usage,
            system_fingerprint=None,
            service_tier=self.service_tier,
        )
        completion.request_id = self.request_id
        return completion

    # -- iteration ---------------------------------------------------------------------------

    def _source(self, mode: str) -> Iterator[Any]:
        if self._reader is None:
            if mode == "chunks":
                self._reader = self._chunks()
            elif mode == "pump":
                self._reader = self._payloads(greedy=False, mark_done=False)
            else:
                self._reader = self._payload_lists(mode)
            self._mode = mode
        elif self._mode != mode:
            raise RuntimeError(
                "this stream is already being read another way (chunks, batches or "
                "events); read a stream one way only"
            )
        return self._reader

    def __iter__(self) -> Iterator[ChunkT]:
        return self._source("chunks")

    def __next__(self) -> ChunkT:
        chunk: ChunkT = next(self._source("chunks"))
        return chunk

    @staticmethod
    def _piece(choice: Any) -> Any:
        """The text a chunk's choice carries (the async stream's ``iter_text`` asks)."""
        return choice.delta.content

    def iter_text(self) -> Iterator[str]:
        """Yield the first choice's content pieces as they arrive (no empty strings)."""
        for chunk in self._source("chunks"):
            for choice in chunk.choices:
                if choice.index == 0 and choice.delta.content:
                    yield choice.delta.content

    def iter_batches(self) -> Iterator[list[ChunkT]]:
        """Yield lists of chunks: everything that had arrived at each read, in order."""
        return self._source("batches")

    def _event_lists(self) -> Iterator[list[str]]:
        """The raw ``data`` of the events, one list per greedy read, with the end-of-stream
        checks of the chunk iterator: each item must go through :meth:`_decode` before the
        next list is asked for. (The async facade reads through ``_pump.py`` instead, and
        also hands plain strings to the loop: a list of thousands of decoded chunks would
        survive long enough to make the garbage collector walk them again and again.)
        """
        return self._source("events")

    def _payload_lists(self, mode: str) -> Iterator[Any]:
        events = self._read_events(greedy=True)
        if mode == "events":
            return events
        return ([c for c in map(self._decode, payloads) if c is not None] for payloads in events)

    def _chunks(self) -> Iterator[ChunkT]:
        # Each chunk is handed out as soon as it is decoded, so only one chunk's objects are
        # alive at a time: holding many costs the sync path ~20% in collector passes.
        decode = self._decode
        for payloads in self._read_events(greedy=False):
            for payload in payloads:
                chunk = decode(payload)
                if chunk is not None:
                    yield chunk

    def _read_events(self, greedy: bool) -> Iterator[list[str]]:
        """The network side: body bytes through the SSE decoder into event payloads.

        The consumer decodes a list before asking for the next, so the end-of-stream check
        below has seen every chunk.
        """
        if self.closed:
            raise APIConnectionError("the stream is closed", partial_text=self.text)
        try:
            yield from self._payloads(greedy)
            if self.done:
                # Only the end of the body is left: pool the connection if it comes at
                # once, close it otherwise (never wait on the caller's time).
                self._response.release_after_end()
            else:
                self._check_end()
        except APIError as err:
            self._fail(err)
            raise
        finally:
            self.closed = self.closed or self.done
            if self.closed:
                self._tally.end()

    def _payloads(self, greedy: bool, *, mark_done: bool = True) -> Iterator[list[str]]:
        """The payloads of each read's events, until ``[DONE]`` (``done_read`` is then set,
        ``done`` too if ``mark_done``, and the rest of the body is left unread) or the end
        of the body. Errors pass through untouched: the caller decides when to fail the
        stream. The async facade's reader thread runs ahead of the decoding, so it passes
        ``mark_done=False`` and ``done`` is set when the chunks before ``[DONE]`` are
        handed out (see ``_pump.py``): a bad frame before it must leave ``done`` False."""
        feed = self._decoder.feed
        for data in self._response.iter_bytes(greedy=greedy):
            events = feed(data)
            if not events:
                continue
            payloads = []
            for event in events:
                payload = event.data
                if payload == _DONE:
                    self._done_read = True
                    if mark_done:
                        self.done = True
                    break
                if payload:
                    payloads.append(payload)
            if payloads:
                yield payloads
            if self._done_read:
                return
        self._decoder.close()

    def _check_end(self) -> None:
        """The body ended without ``[DONE]``, and every chunk before the end is decoded:
        an answer without a finish reason was cut short."""
        if self.finish_reason is None:
            raise APIConnectionError(
                "the stream ended before the answer was complete (no [DONE])",
                request_id=self.request_id,
            )
        logger.debug("stream ended without [DONE] after the finish chunk")

    def _decode(self, payload: str) -> Optional[ChunkT]:
        """One event's data as a chunk, accumulated; None for frames without choices.

        A frame that is not JSON, or an error frame, raises the typed error (with the text
        so far) and closes the stream.
        """
        try:
            obj, end = _scan_once(payload, 0)
            if end != len(payload):
                obj = _parse_json(payload)
        except (ValueError, StopIteration, RecursionError) as exc:
            # RecursionError: arrays or objects nested thousands deep, no chunk at all.
            what = "nests too deeply" if isinstance(exc, RecursionError) else "is not JSON"
            raise self._fail(
                APIResponseValidationError(
                    f"the stream sent a frame that {what}: {payload[:200]!r}",
                    body=payload[:1000],
                    request_id=self.request_id,
                )
            ) from None
        if type(obj) is not dict or obj.get("choices") is None:
            if is_error_frame(obj):
                raise self._fail(stream_error(obj, partial_text="", rid=self.request_id))
            logger.debug("skipping a stream frame without choices")
            return None
        try:
            chunk: ChunkT = self._chunk_class.from_wire(obj)
            self._absorb(chunk)
        except APIError as err:
            raise self._fail(err) from None
        self.chunks_received += 1
        return chunk

    def _fail(self, err: APIError) -> APIError:
        """Keep the text so far on ``err`` and drop the connection."""
        if not err.partial_text:
            err.partial_text = self.text
        # A reader that runs ahead (a greedy read, the async pump) may have seen [DONE]
        # already; a stream that failed before its caller got there did not end normally.
        self.done = False
        self.closed = True
        self._tally.end()
        pump = self._pump
        if pump is not None:
            pump.close()  # the reader thread owns the connection: it drops it
        else:
            self._response.close()
        return err

    def _absorb_head(self, chunk: Any) -> None:
        """What every kind of chunk carries: the id, creation time, model and usage."""
        if not self.id and chunk.id:
            self.id = chunk.id
            self.created = chunk.created
            if chunk.model:
                self.model = chunk.model
        if chunk.usage is not None:
            self.usage = chunk.usage
            self._tally.usage(chunk.usage)

    def _absorb(self, chunk: Any) -> None:
        # Any: a chat chunk here; a subclass streaming other chunks absorbs its own.
        self._absorb_head(chunk)
        if chunk.service_tier:
            self.service_tier = chunk.service_tier
        choices = self._choices
        for choice in chunk.choices:
            index = choice.index
            # The type check first: a list or dict as the index would not even hash.
            acc = choices.get(index) if type(index) is int else None
            if acc is None:
                acc = choices[_index(index, "choice")] = _Choice()
            delta = choice.delta
            content = delta.content
            if content:
                if type(content) is not str:
                    raise APIResponseValidationError(
                        f"a stream chunk's content is not text: {content!r:.100}"
                    )
                acc.content.append(content)
            if delta.reasoning_content:
                if type(delta.reasoning_content) is not str:
                    raise APIResponseValidationError("a stream chunk's reasoning is not text")
                acc.reasoning.append(delta.reasoning_content)
            if delta.tool_calls:
                for tc in delta.tool_calls:
                    builder = acc.tools.get(_index(tc.index, "tool call"))
                    if builder is None:
                        builder = acc.tools[tc.index] = _ToolCallBuilder()
                    builder.add(tc)
            if delta.role:
                acc.role = _text(delta.role, "role")
            if choice.finish_reason:
                acc.finish_reason = choice.finish_reason
            if choice.logprobs is not None and choice.logprobs.content:
                if acc.logprobs is None:
                    acc.logprobs = []
                acc.logprobs.extend(choice.logprobs.content)

    # -- closing -----------------------------------------------------------------------------

    def close(self) -> None:
        """Stop reading and release the connection (closed, not pooled, if unfinished)."""
        self.closed = True
        self._tally.end()
        pump = self._pump
        if pump is not None:
            pump.close()
            return
        reader = self._reader
        if reader is not None and hasattr(reader, "close"):
            try:
                reader.close()
            except ValueError:
                # "generator already executing": another thread is mid-read; abort it.
                self._response.abort()
        self._response.close()

    def abort(self) -> None:
        """Close from another thread: wakes a read blocked in the socket, then closes."""
        self.closed = True
        self._tally.end()
        pump = self._pump
        if pump is not None:
            pump.close()
            return
        self._response.abort()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "done" if self.done else ("closed" if self.closed else "open")
        return f"<ChatStream model={self.model!r} {state} chunks={self.chunks_received}>"
