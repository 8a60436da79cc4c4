"""What every resource shares: its client, and turning a response into a typed result."""

from __future__ import annotations

import builtins
import contextlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Optional, TypeVar

from .._exceptions import APIResponseValidationError

if TYPE_CHECKING:
    from .._http import HTTPResponse, HTTPTransport
    from ..client import DeepInfraClient
    from ..types import _JsonMixin

__all__ = [
    "Resource",
    "answer_of",
    "call_options",
    "decode_result",
    "post_generation",
    "stamp_request_id",
]

T = TypeVar("T", bound="_JsonMixin")


class Resource:
    """A group of API calls bound to one client."""

    __slots__ = ("_client",)

    def __init__(self, client: DeepInfraClient) -> None:
        self._client = client

    @property
    def _transport(self) -> HTTPTransport:
        return self._client._transport


def call_options(timeout: Any, extra_headers: Any, max_retries: Any) -> dict[str, Any]:
    """A method's per-call ``timeout``/``extra_headers``/``max_retries``, as the keywords
    of ``DeepInfraClient._send`` (passed on by the helpers that send for a method)."""
    return {"timeout": timeout, "extra_headers": extra_headers, "max_retries": max_retries}


def stamp_request_id(result: T, response: Any) -> T:
    """Set ``result.request_id`` from the response's header (a request id the body already
    carried stays when the header has none)."""
    rid = getattr(response, "request_id", None)
    if rid:
        # object.__setattr__: a frozen result class takes the stamp too.
        object.__setattr__(result, "request_id", rid)
    return result


def decode_result(
    response: HTTPResponse,
    cls: builtins.type[T],
    *,
    what: str,
    require: Optional[tuple[str, builtins.type]] = None,
    data: Any = None,
    **decode: Any,
) -> T:
    """The response's JSON object decoded as ``cls`` (``cls.from_wire(data, **decode)``),
    with the call's request id on it: the one place results of calls are made.

    Args:
        what: names the answer in errors (``"the chat completion"``).
        require: ``(key, type)``: the object must hold ``key`` with a value of ``type``
            (for answers whose class would accept an object without it).
        data: the body, when the caller has parsed it already (it is read only once).

    Raises:
        APIResponseValidationError: the body is not such an object, or does not decode;
            with the status, the body and the request id.
    """
    if data is None:
        data = response.json()
    problem = None
    if not isinstance(data, dict):
        problem = f"{what} is not a JSON object (got {type(data).__name__})"
    elif require is not None and not isinstance(data.get(require[0]), require[1]):
        kind = "list" if require[1] is list else require[1].__name__
        problem = f"{what} has no {require[0]!r} {kind}"
    with answer_of(response):
        if problem is not None:
            raise APIResponseValidationError(problem, body=data)
        result = cls.from_wire(data, **decode)
    return stamp_request_id(result, response)


@contextlib.contextmanager
def answer_of(response: HTTPResponse) -> Iterator[None]:
    """Decoding ``response``'s answer: a validation error raised inside gets the response's
    status, request id and ``requests`` response where it has none."""
    try:
        yield
    except APIResponseValidationError as err:
        err.status_code = err.status_code or response.status_code
        err.request_id = err.request_id or response.request_id
        err.response = err.response or response.response
        raise


def post_generation(
    client: DeepInfraClient,
    path: str,
    payload: dict[str, Any],
    *,
    model: str,
    stream: bool,
    stream_class: Any,
    result_class: builtins.type[T],
    what: str,
    options: Mapping[str, Any],
) -> Any:
    """POST a chat or text completion: with ``stream`` the opened ``stream_class`` (an
    event stream, checked), else the answer decoded as ``result_class``; both counted in
    the client's usage meter (a stream when its usage arrives)."""
    if stream:
        payload["stream"] = True
        response = client._send("POST", path, payload, model=model, stream=True, **options)
        return stream_class.opened(response, model=model, meter=client.usage)
    response = client._send("POST", path, payload, model=model, **options)
    result = decode_result(response, result_class, what=what, require=("choices", list))
    client.usage._record_usage(model, getattr(result, "usage", None))
    return result
