"""``client.chat.completions``: chat completions, whole or streamed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Optional, Union, cast, overload

from .. import _constants as C
from .._config import TimeoutTypes
from .._exceptions import ArgumentValueError
from .._streaming import ChatStream
from .._validation import check_messages, check_model_name, without_none
from ..types import ChatCompletion
from ._base import Resource, post_generation

if TYPE_CHECKING:
    from .._batch import BatchResult, ProgressOption
    from ..client import DeepInfraClient

__all__ = ["Chat", "Completions"]

_PATH = C.OPENAI_PREFIX + "/chat/completions"


class Completions(Resource):
    """``POST /v1/openai/chat/completions``."""

    __slots__ = ()

    @overload
    def create(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        stream: Literal[False] = False,
        temperature: Optional[float] = None,
        top_p: Optional[float] = None,
        max_tokens: Optional[int] = None,
        stop: Union[str, Sequence[str], None] = None,
        n: Optional[int] = None,
        seed: Optional[int] = None,
        tools: Optional[Sequence[Mapping[str, Any]]] = None,
        tool_choice: Union[str, Mapping[str, Any], None] = None,
        response_format: Optional[Mapping[str, Any]] = None,
        reasoning_effort: Optional[str] = None,
        top_k: Optional[int] = None,
        min_p: Optional[float] = None,
        repetition_penalty: Optional[float] = None,
        presence_penalty: Optional[float] = None,
        frequency_penalty: Optional[float] = None,
        user: Optional[str] = None,
        extra_body: Optional[Mapping[str, Any]] = None,
        timeout: TimeoutTypes = None,
        extra_headers: Optional[Mapping[str, Optional[str]]] = None,
        max_retries: Optional[int] = None,
        **params: Any,
    ) -> ChatCompletion: ...

    @overload
    def create(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        stream: Literal[True],
        temperature: Optional[float] = None,
        top_p: Optional[float] = None,
        max_tokens: Optional[int] = None,
        stop: Union[str, Sequence[str], None] = None,
        n: Optional[int] = None,
        seed: Optional[int] = None,
        tools: Optional[Sequence[Mapping[str, Any]]] = None,
        tool_choice: Union[str, Mapping[str, Any], None] = None,
        response_format: Optional[Mapping[str, Any]] = None,
        reasoning_effort: Optional[str] = None,
        top_k: Optional[int] = None,
        min_p: Optional[float] = None,
        repetition_penalty: Optional[float] = None,
        presence_penalty: Optional[float] = None,
        frequency_penalty: Optional[float] = None,
        user: Optional[str] = None,
        extra_body: Optional[Mapping[str, Any]] = None,
        timeout: TimeoutTypes = None,
        extra_headers: Optional[Mapping[str, Optional[str]]] = None,
        max_retries: Optional[int] = None,
        **params: Any,
    ) -> ChatStream: ...

    @overload
    def create(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        stream: bool,
        **params: Any,
    ) -> Union[ChatCompletion, ChatStream]: ...

    def create(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        stream: bool = False,
        extra_body: Optional[Mapping[str, Any]] = None,
        timeout: TimeoutTypes = None,
        extra_headers: Optional[Mapping[str, Optional[str]]] = None,
        max_retries: Optional[int] = None,
        **params: Any,
    ) -> Union[ChatCompletion, ChatStream]:
        """Run a chat completion.

        Args:
            model: the model name, e.g. ``"meta-llama/Llama-3.3-70B-Instruct-Turbo"``.
            messages: ``[{"role": "user", "content": "Hi"}, ...]``.
            stream: ``True`` returns a :class:`ChatStream` of chunks as they are generated.
            extra_body: fields merged into the JSON body as they are (for new API options).
            timeout: this call's timeout (seconds, a ``(connect, read)`` pair or a
                :class:`~deepinfra_sdk.Timeout`) instead of the client's.
            extra_headers: headers added to this request (``None`` drops one).
            max_retries: this call's retry budget instead of the client's.
            **params: OpenAI and DeepInfra options (``temperature``, ``top_p``,
                ``max_tokens``, ``stop``, ``n``, ``seed``, ``tools``, ``tool_choice``,
                ``response_format``, ``reasoning_effort``, ``top_k``, ``min_p``,
                ``repetition_penalty``, ...). Options left ``None`` are not sent.

        Returns:
            A ``ChatCompletion``, or a ``ChatStream`` when ``stream=True``; use the stream
            as a context manager so its connection is released.
        """
        if not isinstance(model, str) or not model.strip():
            raise ArgumentValueError(
                "model is required, e.g. model='meta-llama/Llama-3.3-70B-Instruct-Turbo'"
            )
        check_model_name(model)
        payload: dict[str, Any] = {"model": model, "messages": check_messages(messages)}
        payload.update(without_none(params))
        if extra_body:
            payload.update(extra_body)
        client = self._client
        options: dict[str, Any] = {
            "timeout": timeout,
            "extra_headers": extra_headers,
            "max_retries": max_retries,
        }
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


class Chat(Resource):
    """``client.chat``: holds ``completions``."""

    __slots__ = ("completions",)

    def __init__(self, client: DeepInfraClient) -> None:
        super().__init__(client)
        self.completions = Completions(client)
