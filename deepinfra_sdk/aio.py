"""AsyncDeepInfraClient: the synchronous client run in worker threads, for asyncio and trio.

This is the only module that imports ``anyio``. It does not re-implement HTTP, SSE or
decoding: every call runs the sync client's own method in a worker thread, under a
private ``anyio.CapacityLimiter`` (never anyio's shared default of 40 threads, which would
serialise the 41st stream and starve the host application).

A stream has a reader thread of its own (``_pump.py``): it sends the request, then reads
the body for the stream's whole life, handing the loop one *batch* of raw event data per
wake-up (everything that arrived since the loop last took), so a fast stream costs one
wake-up per batch, not one per chunk, and many streams share their wake-ups. Read-ahead is
bounded. Each event is decoded into its chunk as the loop hands it out, by the same code
as in the sync stream: only one chunk's objects are alive at a time, which keeps the
garbage collector from walking thousands of survivors per batch.

Cancellation (a cancelled task, ``anyio.fail_after``, ``break`` + ``aclose()``) frees the
worker thread at once: the socket it waits on is shut down (closing it from another
thread would not wake the blocked read), the connection is dropped instead of pooled
half-read, and a result that arrives after the caller left is closed.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import inspect
import itertools
import threading
import weakref
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Coroutine,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
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
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread

from . import _constants as C
from ._batch import BatchResult, BatchRun, ProgressOption
from ._cancel import CallGuard
from ._chat_options import MessageLike
from ._config import TimeoutTypes, redact_url
from ._exceptions import APIConnectionError, APIError, ArgumentTypeError, ArgumentValueError
from ._keywords import forwards_keywords, strict_keywords
from ._pump import ConcurrentReadError, StreamPump, Wakeups
from ._streaming import ChatStream, ChunkT
from ._tools import PreparedCall, ToolLoop, ToolRunResult
from .client import DeepInfraClient
from .resources import (
    Batches,
    Completions,
    Embeddings,
    FileContent,
    Files,
    Images,
    Inference,
    Models,
    Rerank,
    Speech,
    TextCompletions,
    Transcriptions,
    Translations,
)
from .types import ChatCompletion, ChatCompletionChunk, Completion, Model

if TYPE_CHECKING:
    import os
    import pathlib

    import requests

    # typing_extensions, not typing: a type checker targeting Python 3.9 (a user's mypy on
    # 3.9) has no typing.ParamSpec and would see every async method as Any. Never imported
    # at run time.
    from typing_extensions import Concatenate, ParamSpec, Unpack

    from ._batch import BatchItem
    from ._chat_options import CreateOptions, ToolRunOptions
    from ._pagination import Page
    from ._usage import UsageMeter
    from .resources.batches import RunRequests
    from .types import ToolCall, Usage

    P = ParamSpec("P")

__all__ = ["AsyncChatStream", "AsyncDeepInfraClient", "AsyncFileContent", "AsyncPage"]

R = TypeVar("R")
S = TypeVar("S")
W = TypeVar("W")
K = TypeVar("K")  # a stream's chunk type


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

    The configuration arguments (``api_key``, ``base_url``, ``timeout``, ``max_retries``,
    ``default_headers``, ``session``, ``pool_maxsize``, ``proxy``, ``allow_insecure``,
    ``max_response_bytes``) are those of
    :class:`DeepInfraClient`; ``None`` means its default.

    Args:
        client: wrap an existing :class:`DeepInfraClient` (sharing its connections and
            model cache) instead of configuring a new one.
        max_concurrency: how many requests are in flight at once: calls, and streams
            until their response arrives (an open stream then reads in its own thread
            without holding a slot). By default the connection pool size, at least 64; a
            client built here gets a pool this large.
    """

    models: AsyncModels
    chat: AsyncChat
    images: AsyncImages
    embeddings: AsyncEmbeddings
    files: AsyncFiles
    batches: AsyncBatches

    @strict_keywords
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
        allow_insecure: bool = False,
        max_response_bytes: Optional[int] = None,
        client: Optional[DeepInfraClient] = None,
        max_concurrency: Optional[int] = None,
    ) -> None:
        if max_concurrency is not None and (
            not isinstance(max_concurrency, int) or max_concurrency < 1
        ):
            raise ArgumentValueError(
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
                "max_response_bytes": max_response_bytes,
            }
            clashing = [name for name, value in given.items() if value is not None]
            if max_retries is not None:
                clashing.append("max_retries")
            if allow_insecure:
                clashing.append("allow_insecure")
            if clashing:
                raise ArgumentValueError(
                    f"pass either client=... or configuration ({', '.join(clashing)}), not "
                    "both: the wrapped client already has its configuration"
                )
            if not isinstance(client, DeepInfraClient):
                raise ArgumentTypeError(
                    f"client must be a DeepInfraClient, got {type(client).__name__}"
                )
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
                allow_insecure=allow_insecure,
                max_response_bytes=(
                    C.DEFAULT_MAX_RESPONSE_BYTES
                    if max_response_bytes is None
                    else max_response_bytes
                ),
            )
            self._owns_client = True
        self._setup(max_concurrency)

    def _setup(self, max_concurrency: Optional[int]) -> None:
        self._max_concurrency = max_concurrency or max(
            self._client.config.pool_maxsize, C.MIN_ASYNC_CONCURRENCY
        )
        # One limiter (and wake-up batcher) per event loop: both belong to the loop.
        self._loops: dict[Any, _LoopState] = {}
        self._loops_lock = threading.Lock()
        self.models = AsyncModels(self, self._client.models)
        self.chat = AsyncChat(self)
        self.images = AsyncImages(self, self._client.images)
        self.embeddings = AsyncEmbeddings(self, self._client.embeddings)
        self.files = AsyncFiles(self, self._client.files)
        self.batches = AsyncBatches(self, self._client.batches)
        self.audio = AsyncAudio(self)
        self.rerank = AsyncRerank(self, self._client.rerank)
        self.inference = AsyncInference(self, self._client.inference)
        self.completions = AsyncTextCompletions(self, self._client.completions)

    # -- configuration ------------------------------------------------------------------

    @property
    def sync_client(self) -> DeepInfraClient:
        """The :class:`DeepInfraClient` doing the work (shares connections and caches)."""
        return self._client

    @property
    def max_concurrency(self) -> int:
        """How many requests are in flight at once (calls, and streams until their
        response)."""
        return self._max_concurrency

    @property
    def base_url(self) -> str:
        """The API root in use."""
        return self._client.base_url

    @property
    def usage(self) -> UsageMeter:
        """Tokens and cost so far: the meter of :attr:`sync_client`, shared with it."""
        return self._client.usage

    # -- running sync calls in worker threads ----------------------------------------------

    def _loop_state(self) -> _LoopState:
        token = anyio.lowlevel.current_token()
        key = (token.backend_class, token.native_token)
        state = self._loops.get(key)
        if state is None:
            with self._loops_lock:
                state = self._loops.get(key)
                if state is None:
                    if len(self._loops) >= 8:
                        # Loops come and go (asyncio.run per call, notebook restarts).
                        self._loops.pop(next(iter(self._loops)))
                    state = self._loops[key] = _LoopState(token, self._max_concurrency)
        return state

    def _limiter(self) -> anyio.CapacityLimiter:
        return self._loop_state().limiter

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

    async def _open_stream(self, opener: Callable[[], ChatStream[K]]) -> AsyncChatStream[K]:
        """``opener()`` in a reader thread of its own, which then reads the stream ahead."""
        loop = self._loop_state()
        pump = StreamPump(limit=C.STREAM_READ_AHEAD_CHARS, opener=opener)
        # Like any call, the request holds a token of the limiter until its response. A
        # free token is taken without anyio's extra checkpoint: the wait below is one.
        limiter = loop.limiter
        try:
            # Checked first because anyio releases that still run on Python 3.9 let trio's
            # own WouldBlock escape from the trio backend's nowait acquire.
            if limiter.available_tokens < 1:
                raise anyio.WouldBlock
            limiter.acquire_on_behalf_of_nowait(pump)
        except anyio.WouldBlock:
            await limiter.acquire_on_behalf_of(pump)
        try:
            opened, wake = loop.waiter()
            pump.start(wake)
            try:
                await opened()
            except BaseException:
                # Cancelled: stop the request, or close the stream if it is already open.
                pump.abort_open()
                raise
        finally:
            limiter.release_on_behalf_of(pump)
        if pump.open_error is not None:
            raise pump.open_error
        stream: Optional[ChatStream[K]] = pump.stream
        assert stream is not None
        pump.guard.release()
        return AsyncChatStream(stream, self, _pump=pump, _loop=loop)

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
        # Never raises: traceback formatters that show locals call it on half-built clients.
        client = getattr(self, "_client", None)
        config = getattr(client, "_config", None)
        if config is None:
            return "<AsyncDeepInfraClient (not configured)>"
        key = "set" if config.api_key else "none"
        return (
            f"<AsyncDeepInfraClient base_url={redact_url(config.base_url)!r} api_key={key} "
            f"max_concurrency={getattr(self, '_max_concurrency', None)}>"
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


def _wake_soon(token: anyio.lowlevel.EventLoopToken) -> Callable[[Callable[[], None]], Any]:
    """How another thread schedules a callback in this loop without waiting for it."""
    native = token.native_token
    # asyncio's loop, trio's TrioToken: both public, both cheap.
    for name in ("call_soon_threadsafe", "run_sync_soon"):
        soon = getattr(native, name, None)
        if callable(soon):
            return soon  # type: ignore[no-any-return]
    return functools.partial(anyio.from_thread.run_sync, token=token)


def _resolve(future: Any) -> None:
    if not future.done():  # cancelled meanwhile: its waiter has left
        future.set_result(None)


class _LoopState:
    """What the client keeps per event loop: the limiter, the stream wake-ups, and how a
    stream waits for its reader thread."""

    __slots__ = ("create_future", "limiter", "wakeups")

    def __init__(self, token: anyio.lowlevel.EventLoopToken, tokens: int) -> None:
        self.limiter = anyio.CapacityLimiter(tokens)
        self.wakeups = Wakeups(_wake_soon(token))
        # On asyncio a stream waits on a bare future of the loop: what anyio.Event does
        # underneath, without its per-call backend lookups (a stream waits once per batch).
        self.create_future: Optional[Callable[[], Any]] = getattr(
            token.native_token, "create_future", None
        )

    def waiter(self) -> tuple[Callable[[], Awaitable[Any]], Callable[[], None]]:
        """``(wait, wake)``: ``await wait()`` returns once ``wake()`` was called, from any
        thread."""
        create_future = self.create_future
        if create_future is not None:
            future = create_future()
            resolve = functools.partial(_resolve, future)
            return functools.partial(_identity, future), functools.partial(
                self.wakeups.call, resolve
            )
        event = anyio.Event()
        return event.wait, functools.partial(self.wakeups.call, event.set)

    async def wait_for(self, pump: StreamPump) -> None:
        """Wait until ``pump`` has something (or is done), unless it already has."""
        wait, wake = self.waiter()
        if pump.park(wake):
            await wait()


def _identity(value: Any) -> Any:
    return value


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


def _threaded_as(
    method: Callable[Concatenate[S, P], R],
    wrap: Callable[[R, AsyncDeepInfraClient], W],
) -> Callable[Concatenate[_AsyncResource[S], P], Coroutine[Any, Any, W]]:
    """:func:`_threaded` for a method whose result needs an async face (a page to follow
    with ``async for``, a body to read): ``wrap(result, client)`` gives it."""

    async def call(self: _AsyncResource[S], /, *args: P.args, **kwargs: P.kwargs) -> W:
        return wrap(await self._owner._call(method, self._sync, *args, **kwargs), self._owner)

    functools.update_wrapper(call, method)
    return call


def _threaded_stream(
    method: Callable[Concatenate[S, P], Any],
    result: type[R],
    chunk: type[K],
) -> Callable[Concatenate[_AsyncResource[S], P], Coroutine[Any, Any, Union[R, AsyncChatStream[K]]]]:
    """:func:`_threaded` for a method that returns a ``result`` or, called with
    ``stream=True``, a stream of ``chunk``: the stream is opened in a reader thread of its
    own and handed out as an :class:`AsyncChatStream` (typed by its chunks)."""

    async def call(
        self: _AsyncResource[S], /, *args: P.args, **kwargs: P.kwargs
    ) -> Union[R, AsyncChatStream[K]]:
        owner = self._owner
        if kwargs.get("stream") is True:
            return await owner._open_stream(lambda: method(self._sync, *args, **kwargs))
        result = await owner._call(method, self._sync, *args, **kwargs)
        return AsyncChatStream(result, owner) if isinstance(result, ChatStream) else result

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
    schema = _threaded(Models.schema)
    list_openai = _threaded(Models.list_openai)

    @strict_keywords
    def cached(self, name: str) -> Optional[Model]:
        """The model from any list fetched so far, without a request (None if unknown)."""
        return self._sync.cached(name)


class AsyncImages(_AsyncResource[Images]):
    """``aclient.images``: text-to-image, native or OpenAI-style endpoint."""

    __slots__ = ()

    generate = _threaded(Images.generate)
    edit = _threaded(Images.edit)


class AsyncEmbeddings(_AsyncResource[Embeddings]):
    """``aclient.embeddings``: vectors for texts."""

    __slots__ = ()

    create = _threaded(Embeddings.create)


def _take(items: Iterator[Any], n: int) -> list[Any]:
    return list(itertools.islice(items, n))


async def _drain(owner: AsyncDeepInfraClient, items: Iterator[R], n: int) -> AsyncIterator[R]:
    """Items of a blocking iterator, fetched ``n`` at a time in worker threads (one thread
    hop per ``n`` items, not per item); the iterator is closed when the loop ends."""
    try:
        while batch := await owner._call(_take, items, n):
            for item in batch:
                yield item
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            # A worker abandoned by a cancellation may still be inside it: it stops on its
            # own (its calls were aborted), and closes it then.
            with contextlib.suppress(ValueError):
                close()


class AsyncPage(Generic[R]):
    """A page of a list for async code: ``data`` holds its items; ``async for item in
    page`` goes on through the pages after it."""

    __slots__ = ("_owner", "_page", "data", "first_id", "has_more", "last_id")

    def __init__(self, page: Page[R], owner: AsyncDeepInfraClient) -> None:
        self._page = page
        self._owner = owner
        self.data = page.data
        """The items of this page."""
        self.has_more = page.has_more
        """Whether more items follow this page."""
        self.first_id = page.first_id
        """The id of the first item of this page."""
        self.last_id = page.last_id
        """The id of the last item of this page."""

    async def next_page(self) -> Optional[AsyncPage[R]]:
        """The page after this one (one request), or None if this is the last."""
        following = await self._owner._call(self._page.next_page)
        return None if following is None else AsyncPage(following, self._owner)

    def __aiter__(self) -> AsyncIterator[R]:
        # The sync page's walk (and its guard against a cursor named twice), in threads.
        return _drain(self._owner, iter(self._page), 1000)

    def __repr__(self) -> str:
        return "<Async" + repr(self._page)[1:]


class AsyncFileContent:
    """A file's bytes for async code: ``await content.save(path)`` or ``async for line in
    content.iter_lines()``; never held whole in memory."""

    __slots__ = ("_content", "_owner")

    def __init__(self, content: FileContent, owner: AsyncDeepInfraClient) -> None:
        self._content = content
        self._owner = owner

    @strict_keywords
    async def save(self, path: Union[str, os.PathLike[str]]) -> pathlib.Path:
        """Write the body to ``path`` as it arrives (atomically); the path written."""
        return await self._owner._call(self._content.save, path)

    @property
    def request_id(self) -> Optional[str]:
        """The server's request id, when it sent one."""
        return self._content.request_id

    def iter_bytes(self) -> AsyncIterator[bytes]:
        """The body in pieces as they arrive (see :meth:`FileContent.iter_bytes`)."""
        return _drain(self._owner, self._content.iter_bytes(), 16)

    def iter_lines(self) -> AsyncIterator[str]:
        """The body line by line (see :meth:`FileContent.iter_lines`)."""
        return _drain(self._owner, self._content.iter_lines(), 1000)

    async def aclose(self) -> None:
        """Release the connection."""
        self._content.close()

    async def __aenter__(self) -> AsyncFileContent:
        return self

    async def __aexit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        await self.aclose()


class AsyncFiles(_AsyncResource[Files]):
    """``aclient.files``: upload batch input, read batch results."""

    __slots__ = ()

    create = _threaded(Files.create)
    retrieve = _threaded(Files.retrieve)
    delete = _threaded(Files.delete)

    list = _threaded_as(Files.list, AsyncPage)
    content = _threaded_as(Files.content, AsyncFileContent)


class AsyncBatches(_AsyncResource[Batches]):
    """``aclient.batches``: DeepInfra's Batch API and the resumable bulk runner."""

    __slots__ = ()

    create = _threaded(Batches.create)
    retrieve = _threaded(Batches.retrieve)
    cancel = _threaded(Batches.cancel)
    wait = _threaded(Batches.wait)

    list = _threaded_as(Batches.list, AsyncPage)

    @strict_keywords
    def run(
        self,
        requests: RunRequests,
        *,
        state: Union[str, os.PathLike[str]],
        poll_interval: float = C.BATCH_POLL_INTERVAL,
        progress: ProgressOption = True,
    ) -> AsyncIterator[BatchItem]:
        """The resumable bulk runner (see :meth:`Batches.run`) as an async iterator:
        ``async for item in aclient.batches.run(requests, state="run.json")``.

        The run works in worker threads; cancelling the loop leaves the batches running on
        DeepInfra (run again with the same ``state`` to pick up their results).
        """
        items = self._sync.run(
            requests, state=state, poll_interval=poll_interval, progress=progress
        )
        return _drain(self._owner, items, 500)


class AsyncTranscriptions(_AsyncResource[Transcriptions]):
    """``aclient.audio.transcriptions``: speech to text."""

    __slots__ = ()

    create = _threaded(Transcriptions.create)


class AsyncTranslations(_AsyncResource[Translations]):
    """``aclient.audio.translations``: speech to English text."""

    __slots__ = ()

    create = _threaded(Translations.create)


class AsyncSpeech(_AsyncResource[Speech]):
    """``aclient.audio.speech``: text to speech (``stream_to_file`` writes in a worker
    thread as the bytes arrive)."""

    __slots__ = ()

    create = _threaded(Speech.create)
    stream_to_file = _threaded(Speech.stream_to_file)


class AsyncAudio:
    """``aclient.audio``: ``transcriptions``, ``translations`` and ``speech``."""

    __slots__ = ("speech", "transcriptions", "translations")

    def __init__(self, owner: AsyncDeepInfraClient) -> None:
        audio = owner._client.audio
        self.transcriptions = AsyncTranscriptions(owner, audio.transcriptions)
        self.translations = AsyncTranslations(owner, audio.translations)
        self.speech = AsyncSpeech(owner, audio.speech)


class AsyncRerank(_AsyncResource[Rerank]):
    """``aclient.rerank``: documents ordered by relevance."""

    __slots__ = ()

    create = _threaded(Rerank.create)


class AsyncInference(_AsyncResource[Inference]):
    """``aclient.inference``: any model on its native route."""

    __slots__ = ()

    run = _threaded(Inference.run)


class AsyncTextCompletions(_AsyncResource[TextCompletions]):
    """``aclient.completions``: text completions of a raw prompt; with ``stream=True``
    the result is an :class:`AsyncChatStream` of :class:`~deepinfra_sdk.types.Completion`
    chunks (the request is sent and its status checked before it returns)."""

    __slots__ = ()

    create = _threaded_stream(TextCompletions.create, Completion, Completion)


async def _run_calls(calls: Sequence[PreparedCall]) -> list[Any]:
    """One round's tool calls, concurrently: coroutine functions as tasks, plain functions
    in worker threads; each outcome is the tool's value or what it raised."""
    outcomes: list[Any] = [None] * len(calls)

    async def run(index: int, call: PreparedCall) -> None:
        if inspect.iscoroutinefunction(call.func):
            outcomes[index] = await call.run_async()
        else:
            outcomes[index] = await anyio.to_thread.run_sync(call.run)

    async with anyio.create_task_group() as group:
        for index, call in enumerate(calls):
            if call.func is not None:
                group.start_soon(run, index, call)
    return outcomes


class AsyncCompletions(_AsyncResource[Completions]):
    """``aclient.chat.completions``."""

    __slots__ = ()

    def __init__(self, owner: AsyncDeepInfraClient) -> None:
        super().__init__(owner, owner._client.chat.completions)

    if TYPE_CHECKING:
        # The sync create()'s overloads with async results; the options are spelled once,
        # in CreateOptions. At run time create is the sync method's threaded twin (below).
        @overload
        async def create(
            self,
            *,
            model: str,
            messages: Sequence[MessageLike],
            stream: Literal[False] = False,
            **options: Unpack[CreateOptions],
        ) -> ChatCompletion: ...

        @overload
        async def create(
            self,
            *,
            model: str,
            messages: Sequence[MessageLike],
            stream: Literal[True],
            **options: Unpack[CreateOptions],
        ) -> AsyncChatStream[ChatCompletionChunk]: ...

        @overload
        async def create(
            self,
            *,
            model: str,
            messages: Sequence[MessageLike],
            stream: bool,
            **options: Unpack[CreateOptions],
        ) -> Union[ChatCompletion, AsyncChatStream[ChatCompletionChunk]]: ...

        async def create(
            self,
            *,
            model: str,
            messages: Sequence[MessageLike],
            stream: bool = False,
            **options: Unpack[CreateOptions],
        ) -> Union[ChatCompletion, AsyncChatStream[ChatCompletionChunk]]: ...
    else:
        create = _threaded_stream(Completions.create, ChatCompletion, ChatCompletionChunk)
        create.__doc__ = (
            "Run a chat completion (``await``). With ``stream=True`` the request is sent and "
            "its status checked before this returns (a 401 or 429 raises here, not in the "
            "loop); the result is an :class:`AsyncChatStream`: use ``async with stream:`` "
            "and ``async for chunk in stream``. The rest is the sync method's:\n\n"
            + (Completions.create.__doc__ or "")
        )

    @forwards_keywords(Completions.create, fixed=("stream",))
    async def run_tools(
        self,
        *,
        model: str,
        messages: Sequence[MessageLike],
        tools: Sequence[Any],
        max_rounds: int = 8,
        **params: Unpack[ToolRunOptions],
    ) -> ToolRunResult:
        # The docstring is the sync method's (set below the class).
        loop = ToolLoop(messages, tools, max_rounds, params)
        while True:
            completion = await self.create(
                model=model, messages=loop.messages, tools=loop.definitions, **params
            )
            calls = loop.take(completion)
            if calls is None:
                return loop.result(completion)
            outcomes = await _run_calls(calls)
            loop.answer(calls, outcomes)

    parse = _threaded(Completions.parse)

    @strict_keywords
    async def batch(
        self,
        requests: Iterable[Mapping[str, Any]],
        *,
        concurrency: int = 16,
        progress: ProgressOption = True,
    ) -> BatchResult:
        """Run many (non-streamed) completions at once; results come back in input order.

        Args:
            requests: dicts of :meth:`create` keyword arguments, e.g.
                ``[{"model": ..., "messages": [...]}, ...]`` (``stream=True`` is refused).
            concurrency: how many requests are in flight at once (on the async client,
                also never more than its ``max_concurrency``).
            progress: ``True`` shows a tqdm bar if tqdm is installed (the ``progress``
                extra), else a plain counter on stderr; ``False`` shows nothing; a callable
                is called with a :class:`~deepinfra_sdk.BatchProgress` after each item.

        Returns:
            A :class:`~deepinfra_sdk.BatchResult`: one :class:`~deepinfra_sdk.BatchItem`
            per request, holding its ``completion`` or its ``error``. A failing request
            (after the client's retries) never stops the others;
            ``raise_on_error()`` gives all the completions or raises
            :class:`~deepinfra_sdk.BatchError`.

        Stopping: requests not started are never sent, and those in flight are aborted.
        Ctrl-C during a sync batch raises :class:`~deepinfra_sdk.BatchInterrupted`, whose
        ``result`` holds what finished; cancelling the task awaiting an async batch stops
        it the same way.
        """
        run = BatchRun(requests, concurrency=concurrency, progress=progress)
        slots = anyio.Semaphore(run.concurrency)

        async def one(index: int, request: dict[str, Any]) -> None:
            try:
                completion = await self.create(**request)
            except Exception as exc:  # kept in the item's place; the batch goes on
                run.finish(index, error=exc)
            else:
                run.finish(index, completion=completion)
            finally:
                slots.release()

        with run:
            async with anyio.create_task_group() as tasks:
                for index, request in run.pending():
                    # A task only once a slot is free: what was never started is never sent.
                    await slots.acquire()
                    tasks.start_soon(one, index, request)
        return run.result()


AsyncCompletions.run_tools.__doc__ = Completions.run_tools.__doc__


class AsyncChat:
    """``aclient.chat``: holds ``completions``."""

    __slots__ = ("completions",)

    def __init__(self, owner: AsyncDeepInfraClient) -> None:
        self.completions = AsyncCompletions(owner)


class AsyncChatStream(Generic[ChunkT]):
    """A streaming chat completion for async code: ``async for chunk in stream``.

    Use it as ``async with stream:`` (or ``await stream.aclose()``) so the connection is
    released; leaving early, being cancelled or timing out stops the worker thread and
    drops the connection at once. The accumulated result is read as on
    :class:`~deepinfra_sdk.ChatStream`: :attr:`text`, :attr:`usage`, :meth:`to_completion`...
    Errors raise the SDK's typed errors with ``partial_text`` set. It yields the chunks of the
    stream it reads: ``ChatCompletionChunk`` for chat, ``Completion`` for text completions
    (``AsyncChatStream[Completion]`` to type checkers).
    """

    __slots__ = ("__weakref__", "_exhausted", "_loop", "_owner", "_pending", "_pump", "_stream")

    def __init__(
        self,
        stream: ChatStream[ChunkT],
        owner: AsyncDeepInfraClient,
        *,
        _pump: Optional[StreamPump] = None,
        _loop: Optional[_LoopState] = None,
    ) -> None:
        self._stream = stream
        self._owner = owner
        # Iterated in the event loop that opened it (or, for a stream opened some other
        # way, in the loop of its first read).
        self._loop = _loop
        self._pending: collections.deque[str] = collections.deque()
        self._exhausted = False
        # The reader thread: started by the client with the request, or at the first read
        # for a stream opened some other way.
        self._pump = _pump
        if _pump is not None:
            self._watch()

    def _watch(self) -> None:
        # A stream dropped without aclose() must not leave its reader waiting for room:
        # closing the sync stream stops the reader (the finalizer must not hold self).
        weakref.finalize(self, self._stream.close)

    # -- the accumulated result (see ChatStream) --------------------------------------------

    @property
    def sync_stream(self) -> ChatStream[ChunkT]:
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
    def service_tier(self) -> Optional[str]:
        """The service tier that served the stream, once the server says."""
        return self._stream.service_tier

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

    @overload
    def to_completion(self: AsyncChatStream[Completion]) -> Completion: ...

    @overload
    def to_completion(self: AsyncChatStream[ChatCompletionChunk]) -> ChatCompletion: ...

    def to_completion(self) -> Union[ChatCompletion, Completion]:
        """The whole answer as a ``ChatCompletion`` (a ``Completion`` for a stream of
        text completions), as a call without ``stream`` returns it."""
        return self._stream.to_completion()

    # -- iteration ---------------------------------------------------------------------------

    def __aiter__(self) -> AsyncChatStream[ChunkT]:
        return self

    async def __anext__(self) -> ChunkT:
        pending = self._pending
        decode = self._stream._decode
        while True:
            while pending:
                # Decoded one at a time as they are handed out, as in the sync stream.
                try:
                    chunk = decode(pending.popleft())
                except BaseException:
                    self._shut()
                    raise
                if chunk is not None:
                    return chunk
            if self._exhausted:
                raise StopAsyncIteration
            pump = self._pump or self._start_pump()
            try:
                items = pump.take()
                if items:
                    pending.extend(items)
                    # It was already there: still let other tasks run, and a cancellation
                    # land, once per batch, as a thread hop would.
                    await anyio.lowlevel.checkpoint()
                    continue
                if items is None:
                    loop = self._loop or self._bind_loop()
                    await loop.wait_for(pump)
                    items = pump.take()
                    if items:
                        pending.extend(items)
                        continue
                    if items is None:
                        continue
                self._end(pump)
            except ConcurrentReadError:
                raise  # the other task's read goes on
            except BaseException:
                self._shut()
                raise

    async def iter_text(self) -> AsyncIterator[str]:
        """Yield the first choice's content pieces as they arrive (no empty strings).

        Use it inside ``async with stream:``: leaving that block closes the stream even if
        this generator is abandoned half-way (an async generator is only finalised later).
        """
        piece = self._stream._piece  # a chat delta's content, a completion's text
        async for chunk in self:
            for choice in chunk.choices:  # type: ignore[attr-defined]
                if choice.index == 0:
                    text = piece(choice)
                    if text:
                        yield text

    def _bind_loop(self) -> _LoopState:
        loop = self._loop = self._owner._loop_state()
        return loop

    def _start_pump(self) -> StreamPump:
        pump = StreamPump(limit=C.STREAM_READ_AHEAD_CHARS, stream=self._stream)
        self._pump = pump
        self._watch()
        pump.start()
        return pump

    def _end(self, pump: StreamPump) -> None:
        """The reader is done and everything it read was decoded: raise how it ended."""
        self._exhausted = True
        stream = self._stream
        # Taken from the pump: the error's traceback holds the pump (in the reader's
        # frames), so the pump holding the error too would make a cycle.
        error, pump.error = pump.error, None
        if error is not None:
            try:
                if isinstance(error, APIError):
                    raise stream._fail(error)
                raise error
            finally:
                error = None  # and so would this frame, which the traceback keeps
        if not stream.done:
            try:
                stream._check_end()
            except APIError as err:
                raise stream._fail(err) from None
        raise StopAsyncIteration

    def _shut(self) -> None:
        self._exhausted = True
        self._pending.clear()
        # With a reader thread, this stops it: it drops the connection on its way out.
        self._stream.close()

    async def aclose(self) -> None:
        """Stop reading and release the connection (dropped, not pooled, if unfinished)."""
        self._exhausted = True
        self._shut()

    async def __aenter__(self) -> AsyncChatStream[ChunkT]:
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
