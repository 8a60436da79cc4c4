"""``client.chat.completions``: chat completions, whole or streamed."""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Optional, Union, cast, overload

from .. import _constants as C
from .._chat_options import MessageLike, check_chat_options, flex_timeout
from .._config import TimeoutTypes
from .._exceptions import ArgumentTypeError, ArgumentValueError
from .._keywords import forwards_keywords, strict_keywords
from .._messages import check_messages
from .._streaming import ChatStream
from .._structured import parse_completion, response_format_for
from .._tools import PreparedCall, ToolLoop, ToolRunResult
from .._validation import check_model_name
from ..types import ChatCompletion
from ._base import Resource, call_options, post_generation

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .._batch import BatchResult, ProgressOption
    from .._chat_options import CreateOptions, ParseOptions, ToolRunOptions
    from ..client import DeepInfraClient

__all__ = ["Chat", "Completions"]

_PATH = C.OPENAI_PREFIX + "/chat/completions"


class Completions(Resource):
    """``POST /v1/openai/chat/completions``."""

    __slots__ = ()

    # The options are spelled once, in CreateOptions (the implementation below lists them
    # too: tests/test_keywords.py keeps both equal).
    @overload
    def create(
        self,
        *,
        model: str,
        messages: Sequence[MessageLike],
        stream: Literal[False] = False,
        **options: Unpack[CreateOptions],
    ) -> ChatCompletion: ...

    @overload
    def create(
        self,
        *,
        model: str,
        messages: Sequence[MessageLike],
        stream: Literal[True],
        **options: Unpack[CreateOptions],
    ) -> ChatStream: ...

    @overload
    def create(
        self,
        *,
        model: str,
        messages: Sequence[MessageLike],
        stream: bool,
        **options: Unpack[CreateOptions],
    ) -> Union[ChatCompletion, ChatStream]: ...

    @strict_keywords
    def create(
        self,
        *,
        model: str,
        messages: Sequence[MessageLike],
        stream: bool = False,
        temperature: Optional[float] = None,
        top_p: Optional[float] = None,
        top_k: Optional[int] = None,
        min_p: Optional[float] = None,
        max_tokens: Optional[int] = None,
        stop: Union[str, Sequence[str], None] = None,
        n: Optional[int] = None,
        seed: Optional[int] = None,
        presence_penalty: Optional[float] = None,
        frequency_penalty: Optional[float] = None,
        repetition_penalty: Optional[float] = None,
        tools: Optional[Sequence[Mapping[str, Any]]] = None,
        tool_choice: Union[str, Mapping[str, Any], None] = None,
        parallel_tool_calls: Optional[bool] = None,
        response_format: Optional[Mapping[str, Any]] = None,
        logprobs: Optional[bool] = None,
        top_logprobs: Optional[int] = None,
        reasoning_effort: Optional[str] = None,
        reasoning: Optional[Mapping[str, Any]] = None,
        service_tier: Optional[str] = None,
        prompt_cache_key: Optional[str] = None,
        chat_template_kwargs: Optional[Mapping[str, Any]] = None,
        stream_options: Optional[Mapping[str, Any]] = None,
        user: Optional[str] = None,
        extra_body: Optional[Mapping[str, Any]] = None,
        timeout: TimeoutTypes = None,
        extra_headers: Optional[Mapping[str, Optional[str]]] = None,
        max_retries: Optional[int] = None,
    ) -> Union[ChatCompletion, ChatStream]:
        """Run a chat completion. Options left ``None`` are not sent (the model's defaults
        apply); the API's own names and ranges are in DeepInfra's chat docs. The sampling
        options are ``temperature``, ``top_p``, ``top_k``, ``min_p``, ``presence_penalty``,
        ``frequency_penalty``, ``repetition_penalty`` and ``seed``.

        Args:
            model: the model name, e.g. ``"meta-llama/Llama-3.3-70B-Instruct-Turbo"``, or
                ``"deploy_id:<id>"`` for a custom deployment.
            messages: ``[{"role": "user", "content": "Hi"}, ...]``; a message the SDK
                returned (``completion.choices[0].message``) can be appended as it is.
                Content is a str or a list of parts (:func:`~deepinfra_sdk.image_part`,
                :func:`~deepinfra_sdk.audio_part`, ``{"type": "text", "text": ...}``).
            stream: ``True`` returns a :class:`ChatStream` of chunks as they are generated.
            max_tokens: the most tokens to generate (``finish_reason == "length"`` when hit).
            stop: up to 16 strings that end the answer.
            n: how many choices (1 to 4).
            tools: tool definitions (:func:`~deepinfra_sdk.function_tool` builds them);
                :meth:`run_tools` runs the whole loop.
            tool_choice: ``"auto"``, ``"none"``, ``"required"`` or
                ``{"type": "function", "function": {"name": ...}}``.
            parallel_tool_calls: whether one answer may call several tools.
            response_format: ``{"type": "json_object"}``, ``{"type": "json_schema",
                "json_schema": {...}}`` (:meth:`parse` builds and checks it) or
                ``{"type": "regex", "regex": "..."}``.
            logprobs: return each token's log probability (``choices[i].logprobs``, in
                streams too).
            top_logprobs: also the likeliest alternatives at each position (0 to 20).
            reasoning_effort: ``"none"``, ``"low"``, ``"medium"`` or ``"high"`` for
                reasoning models.
            reasoning: the object form, ``{"effort": ..., "enabled": ...}``.
            service_tier: ``"default"``, ``"priority"`` or ``"flex"`` (cheaper, may queue up
                to ten minutes: the read timeout is raised to cover it unless ``timeout`` is
                given). The tier that served is ``completion.service_tier``.
            prompt_cache_key: groups requests that share a prompt prefix for the cache
                (``usage.prompt_tokens_details.cached_tokens``).
            chat_template_kwargs: passed to the model's chat template.
            stream_options: ``{"include_usage": ..., "continuous_usage_stats": ...}``.
            user: an id for the end user.
            extra_body: fields merged into the JSON body as they are (for API options the
                SDK does not model yet).
            timeout: this call's timeout (seconds, a ``(connect, read)`` pair or a
                :class:`~deepinfra_sdk.Timeout`) instead of the client's.
            extra_headers: headers added to this request (``None`` drops one).
            max_retries: this call's retry budget instead of the client's.

        Returns:
            A ``ChatCompletion``, or a ``ChatStream`` when ``stream=True``; use the stream
            as a context manager so its connection is released. Both carry ``request_id``.
        """
        if not isinstance(model, str) or not model.strip():
            raise ArgumentValueError(
                "model is required, e.g. model='meta-llama/Llama-3.3-70B-Instruct-Turbo'"
            )
        check_model_name(model)
        payload: dict[str, Any] = {"model": model, "messages": check_messages(messages)}
        payload.update(
            check_chat_options(
                {
                    "temperature": temperature,
                    "top_p": top_p,
                    "top_k": top_k,
                    "min_p": min_p,
                    "max_tokens": max_tokens,
                    "stop": stop,
                    "n": n,
                    "seed": seed,
                    "presence_penalty": presence_penalty,
                    "frequency_penalty": frequency_penalty,
                    "repetition_penalty": repetition_penalty,
                    "tools": tools,
                    "tool_choice": tool_choice,
                    "parallel_tool_calls": parallel_tool_calls,
                    "response_format": response_format,
                    "logprobs": logprobs,
                    "top_logprobs": top_logprobs,
                    "reasoning_effort": reasoning_effort,
                    "reasoning": reasoning,
                    "service_tier": service_tier,
                    "prompt_cache_key": prompt_cache_key,
                    "chat_template_kwargs": chat_template_kwargs,
                    "stream_options": stream_options,
                    "user": user,
                }
            )
        )
        if extra_body:
            payload.update(extra_body)
        client = self._client
        if timeout is None and service_tier == "flex":
            timeout = flex_timeout(client.timeout)
        options = call_options(timeout, extra_headers, max_retries)
        return cast(
            Union[ChatCompletion, ChatStream],
            post_generation(
                client,
                _PATH,
                payload,
                model=model,
                stream=stream,
                stream_class=ChatStream,
                result_class=ChatCompletion,
                what="the chat completion",
                options=options,
            ),
        )

    @forwards_keywords(create, fixed=("stream",))
    def run_tools(
        self,
        *,
        model: str,
        messages: Sequence[MessageLike],
        tools: Sequence[Any],
        max_rounds: int = 8,
        **params: Unpack[ToolRunOptions],
    ) -> ToolRunResult:
        """Let the model call Python functions until it answers: call the model, run the
        tools it asks for (the calls of one round concurrently, in threads), send their
        results back, and repeat.

        Args:
            model: the model name.
            messages: the conversation so far (as for :meth:`create`).
            tools: functions (typed, with docstrings: see
                :func:`~deepinfra_sdk.function_tool`) or pydantic model classes.
            max_rounds: the most rounds of tool calls before
                :class:`~deepinfra_sdk.ToolRoundsExceededError` (which carries the
                conversation so far).
            **params: any other :meth:`create` option (``temperature``, ``tool_choice``,
                ``parallel_tool_calls``, ``timeout``, ...), sent with every call.

        Returns:
            The final :class:`~deepinfra_sdk.ToolRunResult`: a ``ChatCompletion`` with
            ``.messages`` (the whole conversation, ending with the final answer) and
            ``.tool_errors`` (tool call id -> exception). A tool that raises, a call with
            arguments that do not fit the function, or a call to an unknown tool is
            answered to the model with the error's text.

        On :class:`~deepinfra_sdk.AsyncDeepInfraClient` (``await
        aclient.chat.completions.run_tools(...)``) tools may also be coroutine functions:
        a round's calls run as tasks, plain functions in worker threads.
        """
        loop = ToolLoop(messages, tools, max_rounds, params)
        for tool in loop.tools.values():
            if inspect.iscoroutinefunction(tool.func):
                raise ArgumentTypeError(
                    f"tool {tool.name!r} is a coroutine function: run it with "
                    "AsyncDeepInfraClient's chat.completions.run_tools"
                )
        while True:
            completion = self.create(
                model=model, messages=loop.messages, tools=loop.definitions, **params
            )
            calls = loop.take(completion)
            if calls is None:
                return loop.result(completion)
            loop.answer(calls, run_calls(calls))

    @forwards_keywords(create, fixed=("stream",))
    def parse(
        self,
        *,
        model: str,
        messages: Sequence[MessageLike],
        response_format: Any,
        **params: Unpack[ParseOptions],
    ) -> ChatCompletion:
        """A completion whose answer is parsed into ``response_format``: a pydantic model
        class (the ``pydantic`` extra), a dataclass, or a JSON-schema dict.

        Sends ``{"type": "json_schema", "json_schema": {"name", "schema", "strict": true}}``
        and sets ``choices[i].message.parsed`` to the instance (a dict for a schema dict).
        ``**params`` are the other :meth:`create` options (not ``stream``).

        Raises:
            LengthFinishReasonError: an answer was cut at the token limit.
            APIResponseValidationError: an answer does not fit the type (the raw content
                is the error's ``body``).
            CapabilityError: the model cannot produce JSON schemas (DeepInfra's "... is not
                supported for model: X"); never retried.
        """
        fmt, parser = response_format_for(response_format)
        completion = self.create(model=model, messages=messages, response_format=fmt, **params)
        return parse_completion(completion, parser)

    @strict_keywords
    def batch(
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
        from .._batch import run_batch

        return run_batch(self.create, requests, concurrency=concurrency, progress=progress)


#: The most threads one round of tool calls uses: the model decides how many calls a round
#: has, and a thread each for hundreds of them would exhaust the process.
MAX_TOOL_THREADS = 16


def run_calls(calls: Sequence[PreparedCall]) -> list[Any]:
    """Run one round's tool calls, concurrently in threads when there are several (at most
    ``MAX_TOOL_THREADS`` at once); each outcome is the tool's value or what it raised."""
    runnable = [c for c in calls if c.func is not None]
    if len(runnable) <= 1:
        return [c.run() if c.func is not None else None for c in calls]
    import contextvars
    from concurrent.futures import ThreadPoolExecutor

    workers = min(len(runnable), MAX_TOOL_THREADS)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tool") as pool:
        # Each call sees the caller's context variables, as a direct call would.
        futures = {id(c): pool.submit(contextvars.copy_context().run, c.run) for c in runnable}
        return [futures[id(c)].result() if c.func is not None else None for c in calls]


class Chat(Resource):
    """``client.chat``: holds ``completions``."""

    __slots__ = ("completions",)

    def __init__(self, client: DeepInfraClient) -> None:
        super().__init__(client)
        self.completions = Completions(client)
