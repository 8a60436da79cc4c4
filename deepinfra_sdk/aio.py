"""AsyncDeepInfraClient: the synchronous client run in worker threads, for asyncio and trio.

This is the only module that imports ``anyio``. It does not re-implement HTTP, SSE or
decoding: every call runs the sync client's own method in a worker thread, under a
private ``anyio.CapacityLimiter`` (never anyio's shared default of 40 threads, which would
serialise the 41st stream and starve the host application).

Streams cross the thread boundary one *batch* at a time: the raw event data of everything
that had arrived when the worker read, so a fast stream costs one thread hop per read, not
one per chunk. Each event is decoded into its chunk as the loop hands it out, by the same
code as in the sync stream: only one chunk's objects are alive at a time, which keeps the
garbage collector from walking thousands of survivors per batch.

Cancellation (a cancelled task, ``anyio.fail_after``, ``break`` + ``aclose()``) frees the
worker thread at once: the socket it waits on is shut down (closing it from another
thread would not wake the blocked read), the connection is dropped instead of pooled
half-read, and a result that arrives after the caller left is closed.
"""

from __future__ import annotations

import collections
import functools
import threading
from collections.abc import AsyncIterator, Coroutine, Mapping, Sequence
from types import TracebackType
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Generic,
    Literal,
    Optional,
    TypeVar,
    Union,
    overload,
)

import anyio
import anyio.lowlevel
import anyio.to_thread

from . import _constants as C
from ._cancel import CallGuard
from ._config import TimeoutTypes, redact_url
from ._exceptions import APIConnectionError
from ._streaming import ChatStream
from .client import DeepInfraClient
from .resources import Completions, Embeddings, Images, Models
from .types import ChatCompletion, ChatCompletionChunk, Model

if TYPE_CHECKING:
    from typing import Concatenate, ParamSpec

    import requests

    from .types import ToolCall, Usage

    P = ParamSpec("P")

__all__ = ["AsyncChatStream", "AsyncDeepInfraClient"]

R = TypeVar("R")
S = TypeVar("S")


def _dispose(result: Any) -> None:
    """Close a result whose caller was cancelled before it could take it."""
    close = getattr(result, "close", None)
    if callable(close):
        close()


class AsyncDeepInfraClient:
    """The async client: every method of :class:`DeepInfraClient`, awaitable.

    Works on asyncio and trio (through anyio), from a Jupyter cell with top-level
    ``await`` as from any async application::

        async with AsyncDeepInfraClient() as client:
            stream = await client.chat.completions.create(
                model="meta-llama/Llama-3.3-70B-Instruct-Turbo",
                messages=[{"role": "user", "content": "Hello"}],
                stream=True,
            )
            async with stream:
                async for chunk in stream:
                    ...

    Args:
        api_key, base_url, timeout, max_retries, default_headers, session, pool_maxsize,
        proxy: as for :class:`DeepInfraClient` (``None`` means its default).
        client: wrap an existing :class:`DeepInfraClient` (sharing its connections and
            model cache) instead of configuring a new one.
        max_concurrency: how many calls and streams run at once (each holds a worker
            thread while it waits). By default the connection pool size, at least 64; a
            client built here gets a pool this large.
    """

    models: AsyncModels
    chat: AsyncChat
    images: AsyncImages
    embeddings: AsyncEmbeddings

    def __init__(
        self,
        api_key: Optional[str] = None,
        *,
        base_url: Optional[str] = None,
        timeout: TimeoutTypes = None,
        max_retries: Optional[int] = None,
        default_headers: Optional[Mapping[str, str]] = None,
        session: Optional[requests.Session] = None,
        pool_maxsize: Optional[int] = None,
        proxy: Optional[str] = None,
        client: Optional[DeepInfraClient] = None,
        max_concurrency: Optional[int] = None,
    ) -> None:
        if max_concurrency is not None and (
            not isinstance(max_concurrency, int) or max_concurrency < 1
        ):
            raise ValueError(
                f"max_concurrency must be a whole number >= 1, got {max_concurrency!r}"
            )
        if client is not None:
            given = {
                "api_key": api_key,
                "base_url": base_url,
                "timeout": timeout,
                "default_headers": default_headers,
                "session": session,
                "pool_maxsize": pool_maxsize,
                "proxy": proxy,
            }
            clashing = [name for name, value in given.items() if value is not None]
            if max_retries is not None:
                clashing.append("max_retries")
            if clashing:
                raise ValueError(
                    f"pass either client=... or configuration ({', '.join(clashing)}), not "
                    "both: the wrapped client already has its configuration"
                )
            if not isinstance(client, DeepInfraClient):
                raise TypeError(f"client must be a DeepInfraClient, got {type(client).__name__}")
            self._client = client
            self._owns_client = False
        else:
            pool = pool_maxsize if pool_maxsize is not None else C.DEFAULT_POOL_MAXSIZE
            if max_concurrency is not None and pool_maxsize is None:
                pool = max(max_concurrency, C.MIN_ASYNC_CONCURRENCY)
            self._client = DeepInfraClient(
                api_key,
                base_url=base_url,
                timeout=timeout,
                max_retries=C.DEFAULT_MAX_RETRIES if max_retries is None else max_retries,
                default_headers=default_headers,
                session=session,
                pool_maxsize=pool,
                proxy=proxy,
            )
            self._owns_client = True
        self._setup(max_concurrency)

    def _setup(self, max_concurrency: Optional[int]) -> None:
        self._max_concurrency = max_concurrency or max(
            self._client.config.pool_maxsize, C.MIN_ASYNC_CONCURRENCY
        )
        # One limiter per event loop: an anyio limiter belongs to the loop that made it.
        self._limiters: dict[Any, anyio.CapacityLimiter] = {}
        self._limiters_lock = threading.Lock()
        self.models = AsyncModels(self, self._client.models)
        self.chat = AsyncChat(self)
        self.images = AsyncImages(self, self._client.images)
        self.embeddings = AsyncEmbeddings(self, self._client.embeddings)

    # -- configuration ------------------------------------------------------------------

    @property
    def sync_client(self) -> DeepInfraClient:
        """The :class:`DeepInfraClient` doing the work (shares connections and caches)."""
        return self._client

    @property
    def max_concurrency(self) -> int:
        """How many calls and streams run at once."""
        return self._max_concurrency

    @property
    def base_url(self) -> str:
        """The API root in use."""
        return self._client.base_url

    # -- running sync calls in worker threads ----------------------------------------------

    def _limiter(self) -> anyio.CapacityLimiter:
        token = anyio.lowlevel.current_token()
        key = (token.backend_class, token.native_token)
        limiter = self._limiters.get(key)
        if limiter is None:
            with self._limiters_lock:
                limiter = self._limiters.get(key)
                if limiter is None:
                    if len(self._limiters) >= 8:
                        # Loops come and go (asyncio.run per call, notebook restarts).
                        self._limiters.pop(next(iter(self._limiters)))
                    limiter = self._limiters[key] = anyio.CapacityLimiter(self._max_concurrency)
        return limiter

    async def _call(self, func: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """``func(*args, **kwargs)`` in a worker thread; cancelling stops it at once."""
        guard = CallGuard()

        def work() -> R:
            if guard.aborted:
                # Cancelled before a thread picked the call up: send nothing at all.
                raise APIConnectionError("the call was cancelled before it started")
            with guard.running():
                result = func(*args, **kwargs)
            guard.hand_over(result, _dispose)
            return result

        try:
            result = await anyio.to_thread.run_sync(
                work, abandon_on_cancel=True, limiter=self._limiter()
            )
        except BaseException:
            # Cancelled (or failed): wake the thread if it is still waiting on the network.
            guard.abort()
            raise
        guard.release()
        return result

    # -- lifetime ---------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Release pooled connections (of a client built here, not of a wrapped one)."""
        if self._owns_client:
            self._client.close()

    async def __aenter__(self) -> AsyncDeepInfraClient:
        return self

    async def __aexit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        key = "set" if self._client.has_api_key else "none"
        return (
            f"<AsyncDeepInfraClient base_url={redact_url(self.base_url)!r} api_key={key} "
            f"max_concurrency={self._max_concurrency}>"
        )

    # Pickles as its configuration, like the sync client.
    def __getstate__(self) -> dict[str, Any]:
        return {
            "client": self._client,
            "owns": self._owns_client,
            "max_concurrency": self._max_concurrency,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._client = state["client"]
        self._owns_client = state["owns"]
        self._setup(state["max_concurrency"])


class _AsyncResource(Generic[S]):
    """A resource group of the async client, backed by the sync client's group."""

    __slots__ = ("_owner", "_sync")

    def __init__(self, owner: AsyncDeepInfraClient, sync: S) -> None:
        self._owner = owner
        self._sync = sync


def _threaded(
    method: Callable[Concatenate[S, P], R],
) -> Callable[Concatenate[_AsyncResource[S], P], Coroutine[Any, Any, R]]:
    """The async twin of a sync resource method: same name, arguments and docs."""

    async def call(self: _AsyncResource[S], /, *args: P.args, **kwargs: P.kwargs) -> R:
        return await self._owner._call(method, self._sync, *args, **kwargs)

    functools.update_wrapper(call, method)
    return call


class AsyncModels(_AsyncResource[Models]):
    """``aclient.models``: the model catalogue, cached (shared with the sync client)."""

    __slots__ = ()

    list = _threaded(Models.list)
    text_models = _threaded(Models.text_models)
    image_models = _threaded(Models.image_models)
    get = _threaded(Models.get)
    replacement_for = _threaded(Models.replacement_for)

    def cached(self, name: str) -> Optional[Model]:
        """The model from any list fetched so far, without a request (None if unknown)."""
        return self._sync.cached(name)


class AsyncImages(_AsyncResource[Images]):
    """``aclient.images``: text-to-image, native or OpenAI-style endpoint."""

    __slots__ = ()

    generate = _threaded(Images.generate)


class AsyncEmbeddings(_AsyncResource[Embeddings]):
    """``aclient.embeddings``: vectors for texts."""

    __slots__ = ()

    create = _threaded(Embeddings.create)


class AsyncCompletions:
    """``aclient.chat.completions``."""

    __slots__ = ("_owner",)

    def __init__(self, owner: AsyncDeepInfraClient) -> None:
        self._owner = owner

    @overload
    async def create(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        stream: Literal[False] = False,
        **params: Any,
    ) -> ChatCompletion: ...

    @overload
    async def create(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        stream: Literal[True],
        **params: Any,
    ) -> AsyncChatStream: ...

    @overload
    async def create(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        stream: bool,
        **params: Any,
    ) -> Union[ChatCompletion, AsyncChatStream]: ...

    async def create(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        stream: bool = False,
        **params: Any,
    ) -> Union[ChatCompletion, AsyncChatStream]:
        """Run a chat completion; the arguments are those of the sync
        :meth:`~deepinfra_sdk.resources.Completions.create`.

        With ``stream=True`` the request is sent and its status checked before this
        returns (a 401 or 429 raises here, not in the loop); the result is an
        :class:`AsyncChatStream`: use ``async with stream:`` and ``async for chunk in
        stream``.
        """
        sync = self._owner._client.chat.completions
        result = await self._owner._call(
            Completions.create, sync, model=model, messages=messages, stream=stream, **params
        )
        if isinstance(result, ChatStream):
            return AsyncChatStream(result, self._owner)
        return result


class AsyncChat:
    """``aclient.chat``: holds ``completions``."""

    __slots__ = ("completions",)

    def __init__(self, owner: AsyncDeepInfraClient) -> None:
        self.completions = AsyncCompletions(owner)


class AsyncChatStream:
    """A streaming chat completion for async code: ``async for chunk in stream``.

    Use it as ``async with stream:`` (or ``await stream.aclose()``) so the connection is
    released; leaving early, being cancelled or timing out stops the worker thread and
    drops the connection at once. The accumulated result is read as on
    :class:`~deepinfra_sdk.ChatStream`: :attr:`text`, :attr:`usage`, :meth:`to_completion`...
    Errors raise the SDK's typed errors with ``partial_text`` set.
    """

    __slots__ = (
        "_batches",
        "_close_requested",
        "_exhausted",
        "_lock",
        "_owner",
        "_pending",
        "_reading",
        "_stream",
    )

    def __init__(self, stream: ChatStream, owner: AsyncDeepInfraClient) -> None:
        self._stream = stream
        self._owner = owner
        self._batches = stream._event_lists()
        self._pending: collections.deque[str] = collections.deque()
        self._exhausted = False
        # The stream is read in a worker thread while the loop may decide to close it:
        # whoever comes second closes it, and never both at once.
        self._lock = threading.Lock()
        self._reading = False
        self._close_requested = False

    # -- the accumulated result (see ChatStream) --------------------------------------------

    @property
    def sync_stream(self) -> ChatStream:
        """The :class:`ChatStream` being read."""
        return self._stream

    @property
    def text(self) -> str:
        """The content received so far for the first choice."""
        return self._stream.text

    @property
    def reasoning(self) -> str:
        """The reasoning text received so far."""
        return self._stream.reasoning

    @property
    def finish_reason(self) -> Optional[str]:
        """Why the first choice ended, once known."""
        return self._stream.finish_reason

    @property
    def usage(self) -> Optional[Usage]:
        """Token usage (and ``estimated_cost``), once the server sent it."""
        return self._stream.usage

    @property
    def tool_calls(self) -> list[ToolCall]:
        """The first choice's tool calls, assembled from their fragments."""
        return self._stream.tool_calls

    @property
    def request_id(self) -> Optional[str]:
        """The server's request id, when it sent one."""
        return self._stream.request_id

    @property
    def model(self) -> str:
        """The model answering."""
        return self._stream.model

    @property
    def done(self) -> bool:
        """Whether ``[DONE]`` arrived."""
        return self._stream.done

    @property
    def closed(self) -> bool:
        """Whether the stream is closed (finished, failed or closed by the caller)."""
        return self._stream.closed

    @property
    def chunks_received(self) -> int:
        """How many chunks arrived so far."""
        return self._stream.chunks_received

    def texts(self) -> dict[int, str]:
        """The content received so far for every choice index."""
        return self._stream.texts()

    def to_completion(self) -> ChatCompletion:
        """The whole answer as a ``ChatCompletion``."""
        return self._stream.to_completion()

    # -- iteration ---------------------------------------------------------------------------

    def __aiter__(self) -> AsyncChatStream:
        return self

    async def __anext__(self) -> ChatCompletionChunk:
        pending = self._pending
        decode = self._stream._decode
        while True:
            while pending:
                # Decoded one at a time as they are handed out, as in the sync stream.
                try:
                    chunk = decode(pending.popleft())
                except BaseException:
                    self._exhausted = True
                    self._shut()
                    raise
                if chunk is not None:
                    return chunk
            if self._exhausted:
                raise StopAsyncIteration
            batch = await self._read_batch()
            if batch is None:
                self._exhausted = True
                raise StopAsyncIteration
            pending.extend(batch)

    async def iter_text(self) -> AsyncIterator[str]:
        """Yield the first choice's content pieces as they arrive (no empty strings).

        Use it inside ``async with stream:``: leaving that block closes the stream even if
        this generator is abandoned half-way (an async generator is only finalised later).
        """
        async for chunk in self:
            for choice in chunk.choices:
                if choice.index == 0 and choice.delta.content:
                    yield choice.delta.content

    def _next_batch(self) -> Optional[list[str]]:
        # Runs in the worker thread, if the hop was not cancelled before a thread took it.
        with self._lock:
            if self._close_requested:
                return None
            self._reading = True
        try:
            return next(self._batches, None)
        finally:
            if self._end_read():
                self._stream.close()

    def _end_read(self) -> bool:
        """Mark the read over; whether the loop asked for a close meanwhile."""
        with self._lock:
            self._reading = False
            return self._close_requested

    async def _read_batch(self) -> Optional[list[str]]:
        if self._close_requested:
            self._exhausted = True
            return None
        try:
            return await anyio.to_thread.run_sync(
                self._next_batch, abandon_on_cancel=True, limiter=self._owner._limiter()
            )
        except BaseException:
            self._exhausted = True
            self._shut()
            raise

    def _shut(self) -> None:
        with self._lock:
            self._close_requested = True
            busy = self._reading
        if busy:
            # The worker is blocked in a read: wake it; it closes the stream on its way out.
            self._stream.abort()
        else:
            self._stream.close()

    async def aclose(self) -> None:
        """Stop reading and release the connection (dropped, not pooled, if unfinished)."""
        self._exhausted = True
        self._shut()

    async def __aenter__(self) -> AsyncChatStream:
        return self

    async def __aexit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return "<Async" + repr(self._stream)[1:]
