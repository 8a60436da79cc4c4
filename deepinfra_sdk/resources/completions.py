"""``client.completions``: text completions of a raw prompt (``/v1/openai/completions``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Optional, Union, cast

from .. import _constants as C
from .._config import TimeoutTypes
from .._keywords import strict_keywords
from .._streaming import ChatStream, _Choice, _index
from .._validation import check_model_name, without_none
from ..types import Completion, CompletionChoice
from ._base import Resource, call_options, post_generation

__all__ = ["CompletionStream", "TextCompletions"]

_PATH = C.OPENAI_PREFIX + "/completions"


class CompletionStream(ChatStream[Completion]):
    """A streamed text completion: iterate it for :class:`~deepinfra_sdk.types.Completion`
    chunks. Everything else is :class:`~deepinfra_sdk.ChatStream`'s (closing, errors
    keeping ``partial_text``, ``text``, ``usage``, ``finish_reason`` after the loop);
    :meth:`to_completion` gives the whole :class:`~deepinfra_sdk.types.Completion`."""

    _chunk_class = Completion

    def _absorb(self, chunk: Any) -> None:
        self._absorb_head(chunk)
        for choice in chunk.choices:
            acc = self._choices.get(choice.index) if type(choice.index) is int else None
            if acc is None:
                acc = self._choices[_index(choice.index, "choice")] = _Choice()
            if choice.text:
                acc.content.append(choice.text)
            if choice.finish_reason:
                acc.finish_reason = choice.finish_reason

    @staticmethod
    def _piece(choice: Any) -> Any:
        return choice.text

    def iter_text(self) -> Iterator[str]:
        """Yield the first choice's text pieces as they arrive (no empty strings)."""
        for chunk in self._source("chunks"):
            for choice in chunk.choices:
                if choice.index == 0 and choice.text:
                    yield choice.text

    def to_completion(self) -> Completion:  # type: ignore[override]
        """The whole answer as a :class:`~deepinfra_sdk.types.Completion`, as a call
        without ``stream`` returns it."""
        choices = [
            CompletionChoice(index, "".join(acc.content), acc.finish_reason)
            for index, acc in sorted(self._choices.items())
        ]
        completion = Completion(self.id, choices, self.created, self.model, usage=self.usage)
        completion.request_id = self.request_id
        return completion

    def __repr__(self) -> str:
        return super().__repr__().replace("<ChatStream", "<CompletionStream", 1)


class TextCompletions(Resource):
    """``POST /v1/openai/completions``: continue a prompt written in the model's own format."""

    __slots__ = ()

    @strict_keywords
    def create(
        self,
        /,
        *,
        prompt: str,
        model: str = C.DEFAULT_MODEL,
        stream: bool = False,
        max_tokens: Optional[int] = None,
        temperature: Optional[float] = None,
        top_p: Optional[float] = None,
        stop: Union[str, Sequence[str], None] = None,
        n: Optional[int] = None,
        seed: Optional[int] = None,
        echo: Optional[bool] = None,
        logprobs: Optional[int] = None,
        extra_body: Optional[Mapping[str, Any]] = None,
        timeout: TimeoutTypes = None,
        extra_headers: Optional[Mapping[str, Optional[str]]] = None,
        max_retries: Optional[int] = None,
    ) -> Union[Completion, CompletionStream]:
        """Complete ``prompt`` (sent as it is: apply the model's chat template yourself).

        Args:
            prompt: the raw prompt.
            model: a text-generation model.
            stream: ``True`` returns a :class:`CompletionStream` of pieces as they come.
            max_tokens: the most tokens to generate.
            temperature: sampling temperature, 0 to 2.
            top_p: nucleus sampling, 0 to 1.
            stop: a string or up to 16 strings that end the text.
            n: how many alternatives.
            seed: a seed, for repeatable answers.
            echo: put the prompt before the text.
            logprobs: how many log probabilities per token.
            extra_body: other fields (``top_k``, ``repetition_penalty``, ``stop_token_ids``,
                ...), sent as they are.
            timeout: this call's timeout (seconds, a ``(connect, read)`` pair or a
                :class:`~deepinfra_sdk.Timeout`) instead of the client's.
            extra_headers: headers added to this request (``None`` drops one).
            max_retries: this call's retry budget instead of the client's.
        """
        check_model_name(model)
        payload = without_none(
            {
                "model": model,
                "prompt": prompt,
                "max_tokens": max_tokens,
                "temperature": temperature,
                "top_p": top_p,
                "stop": stop,
                "n": n,
                "seed": seed,
                "echo": echo,
                "logprobs": logprobs,
            }
        )
        payload.update(extra_body or {})
        client = self._client
        options = call_options(timeout, extra_headers, max_retries)
        return cast(
            Union[Completion, CompletionStream],
            post_generation(
                client,
                _PATH,
                payload,
                model=model,
                stream=stream,
                stream_class=CompletionStream,
                result_class=Completion,
                what="the completion",
                options=options,
            ),
        )
