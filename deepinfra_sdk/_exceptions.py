"""The errors the SDK raises: every failure surfaces as one of these.

The tree::

    DeepInfraError                       anything raised by this package
     ├── ArgumentError                   a bad argument, refused before anything is sent
     │    ├── ArgumentValueError         ... a bad value (also a ValueError)
     │    └── ArgumentTypeError          ... a wrong type or unknown keyword (also a TypeError)
     └── APIError                        a request did not give a usable answer
          ├── APIConnectionError         no (complete) answer: refused, DNS, reset, dropped stream
          │    ├── APITimeoutError       a connect, read, gap or total-deadline timeout
          │    └── UploadError           an upload broke after its first byte (never retried)
          ├── APIStatusError             the server answered with a 4xx/5xx status
          │    ├── BadRequestError            400
          │    ├── AuthenticationError        401: the key sent was rejected
          │    │    └── MissingAPIKeyError    no key was sent (none configured)
          │    ├── PaymentRequiredError       402
          │    ├── PermissionDeniedError      403
          │    ├── NotFoundError              404
          │    ├── UnprocessableEntityError   422
          │    ├── LockedError                423
          │    ├── RateLimitError             429
          │    └── InternalServerError        >= 500
          ├── APIStreamError             an error frame inside a 200 event stream
          └── APIResponseValidationError the body or a frame is not what the wire promises
               └── APIResponseTooLargeError  the answer is over max_response_bytes

Bad arguments (an invalid model name, malformed messages, a misspelled keyword) raise an
:class:`ArgumentError` before anything is sent: they are the caller's bug, not an API failure.
Each is also the built-in ``ValueError`` or ``TypeError`` Python code expects, so both
``except DeepInfraError`` and ``except ValueError`` catch an invalid model name.

Every :class:`APIError` carries ``status_code``, ``body``, ``request_id`` and ``response``
(any of them ``None`` where there was no answer) and, when it ends a stream,
``partial_text``: the text that had already arrived, so nothing received is lost.

Messages never contain the API key: they are built from server bodies and our own words only.
"""

from __future__ import annotations

from typing import Any, Optional

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseTooLargeError",
    "APIResponseValidationError",
    "APIStatusError",
    "APIStreamError",
    "APITimeoutError",
    "ArgumentError",
    "ArgumentTypeError",
    "ArgumentValueError",
    "AuthenticationError",
    "BadRequestError",
    "CapabilityError",
    "DeepInfraError",
    "InternalServerError",
    "LengthFinishReasonError",
    "LockedError",
    "MissingAPIKeyError",
    "NotFoundError",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "RateLimitError",
    "ToolRoundsExceededError",
    "UnprocessableEntityError",
    "UploadError",
]


class DeepInfraError(Exception):
    """Base class of every error this package raises."""


class ArgumentError(DeepInfraError):
    """A bad argument, refused before any request was sent; the message names the fix.

    Never raised itself: every instance is an :class:`ArgumentValueError` (also a
    ``ValueError``) or an :class:`ArgumentTypeError` (also a ``TypeError``).
    """


class ArgumentValueError(ArgumentError, ValueError):
    """An argument has the right type but a bad value (an invalid model name, an empty
    prompt, a negative size); also a ``ValueError``."""


class ArgumentTypeError(ArgumentError, TypeError):
    """An argument has the wrong type, or a keyword the method does not take (the message
    names the closest valid one); also a ``TypeError``."""


class APIError(DeepInfraError):
    """A request to DeepInfra did not give a usable answer.

    Attributes:
        message: a human-readable explanation (never contains the API key).
        status_code: the HTTP status, or ``None`` when no status line arrived.
        body: the decoded JSON body (or the start of the text body), if any.
        request_id: the server's request id, from headers or body, if any.
        response: the underlying ``requests.Response``, if any.
        partial_text: for errors that end a stream, the text received before it.
    """

    message: str
    status_code: Optional[int]
    body: Any
    request_id: Optional[str]
    response: Any
    partial_text: Optional[str]

    def __init__(
        self,
        message: str,
        *,
        status_code: Optional[int] = None,
        body: Any = None,
        request_id: Optional[str] = None,
        response: Any = None,
        partial_text: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.body = body
        self.request_id = request_id
        self.response = response
        self.partial_text = partial_text

    def __str__(self) -> str:
        parts = [self.message]
        if self.status_code is not None:
            parts.append(f"(HTTP {self.status_code})")
        if self.request_id:
            # Ids are short; a hostile one must not turn every log line into a megabyte.
            rid = str(self.request_id)
            parts.append(f"[request id {rid if len(rid) <= 100 else rid[:100] + '...'}]")
        return " ".join(parts)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status_code={self.status_code!r})"

    def __reduce__(self) -> Any:
        # Keep errors picklable (they cross process pools); the live response is not.
        # Attributes of subclasses (retry_after, error_type) travel as the state.
        state = {k: v for k, v in self.__dict__.items() if k not in _REBUILT}
        return (
            _rebuild_error,
            (
                type(self),
                self.message,
                self.status_code,
                self.body,
                self.request_id,
                self.partial_text,
            ),
            state or None,
        )


_REBUILT = frozenset({"message", "status_code", "body", "request_id", "response", "partial_text"})


def _rebuild_error(  # noqa: PLR0917 - the argument tuple pickle stores
    cls: type[APIError],
    message: str,
    status_code: Optional[int],
    body: Any,
    request_id: Optional[str],
    partial_text: Optional[str],
) -> APIError:
    err = cls.__new__(cls)
    APIError.__init__(
        err,
        message,
        status_code=status_code,
        body=body,
        request_id=request_id,
        partial_text=partial_text,
    )
    return err


class APIConnectionError(APIError):
    """No complete answer: the connection was refused, reset, or dropped mid-stream."""


class APITimeoutError(APIConnectionError):
    """A timeout phase ran out: connect, read (gap between chunks) or the total deadline."""


class APIStatusError(APIError):
    """The server answered with an error status (4xx or 5xx).

    ``retry_after`` is the server's ``Retry-After`` in seconds (from delta-seconds or an
    HTTP date, counted when the answer arrived), or ``None`` when it sent none. A value
    beyond the SDK's cap (60 s) is not waited for: the error is raised at once, so the
    caller can decide whether to wait that long.
    """

    retry_after: Optional[float] = None


class BadRequestError(APIStatusError):
    """400: the request was malformed or invalid (for example, the context is too long)."""


class CapabilityError(BadRequestError):
    """The model does not support a feature the request used: DeepInfra's "... is not
    supported for model: X" (a 400 or a 405; a :class:`BadRequestError` either way).
    Never retried; the message names the model and the way out.

    ``model`` is the model named by the server and ``feature`` what it refused
    (``"tools"``, ``"json_object"``, ``"json_schema"``, ...), when the message says.
    """

    model: Optional[str] = None
    feature: Optional[str] = None


class AuthenticationError(APIStatusError):
    """401: the API key sent was rejected (its message says to check ``DEEPINFRA_API_KEY``).

    The subclass :class:`MissingAPIKeyError` is raised instead when no key was sent at all.
    """


class MissingAPIKeyError(AuthenticationError):
    """No API key was sent: none was passed or found in the environment.

    Raised before sending when the call needs a key (``status_code`` is ``None``), or for a
    401 answered to a request sent without one (to a local emulator or proxy, where the key
    is optional). The message names ``DEEPINFRA_API_KEY``.
    """


class PaymentRequiredError(APIStatusError):
    """402: the account has no funds or quota left."""


class PermissionDeniedError(APIStatusError):
    """403: the key may not use this model or endpoint."""


class NotFoundError(APIStatusError):
    """404: no such model or route (the message names a replacement where one is known)."""


class UnprocessableEntityError(APIStatusError):
    """422: the request failed validation on the server (``detail`` lists the fields)."""


class LockedError(APIStatusError):
    """423: the model is locked (for example, still deploying); try again later."""


class RateLimitError(APIStatusError):
    """429: too many concurrent requests, or the model is busy."""


class InternalServerError(APIStatusError):
    """5xx: the server failed or has no capacity (503)."""


class UploadError(APIConnectionError):
    """A request body being uploaded (a file) did not get through whole: the connection
    broke while it was being sent, or the source failed or changed size while it was read.

    An upload that has started is never retried by the client (the server may have taken
    part of it): send it again yourself. ``bytes_sent`` is how far it got, if known.
    """

    bytes_sent: Optional[int] = None


class APIStreamError(APIError):
    """The server sent an error frame inside an event stream that began with 200.

    ``error_type`` holds DeepInfra's ``error_type`` (for example ``validation_error``)
    or the OpenAI-style ``error.type``.
    """

    error_type: Optional[str] = None


class APIResponseValidationError(APIError):
    """The server's body or a stream frame is not valid JSON or lacks what the wire promises."""


class LengthFinishReasonError(APIResponseValidationError):
    """The answer was cut at the token limit (``finish_reason == "length"``) before it was
    complete, so it cannot be parsed: raise ``max_tokens`` or ask for less. ``completion``
    is the cut answer."""

    completion: Any = None


class ToolRoundsExceededError(DeepInfraError):
    """``run_tools`` reached ``max_rounds`` with the model still calling tools.

    ``messages`` is the conversation so far (wire dicts, ending with the assistant message
    that asked for more calls): pass it back to continue. ``tool_errors`` maps a tool call
    id to the exception its tool raised.
    """

    def __init__(
        self,
        message: str,
        *,
        messages: list[dict[str, Any]],
        tool_errors: dict[str, BaseException],
    ) -> None:
        super().__init__(message)
        self.messages = messages
        self.tool_errors = tool_errors


class APIResponseTooLargeError(APIResponseValidationError):
    """The answer's body is larger than the client's ``max_response_bytes``.

    ``limit`` is that setting in bytes; the message says how to raise it. A stream keeps
    what arrived before the limit in ``partial_text``.
    """

    limit: Optional[int] = None


_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: PaymentRequiredError,
    403: PermissionDeniedError,
    404: NotFoundError,
    422: UnprocessableEntityError,
    423: LockedError,
    429: RateLimitError,
}


def status_error_class(status_code: int) -> type[APIStatusError]:
    """The error class for an HTTP status (``APIStatusError`` for unlisted 4xx)."""
    if status_code >= 500:
        return InternalServerError
    return _STATUS_CLASSES.get(status_code, APIStatusError)
