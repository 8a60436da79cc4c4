"""Error bodies in every shape DeepInfra is known to answer with (listed in docs/errors.md).

Routes raise :class:`APIError`; the server turns it into a response. Faults build their
bodies with :func:`fault_body`, which knows the JSON shapes, a text body, and the
"realistic" choice per status code that ``body_shape="auto"`` stands for: the recorded body
where one exists (``real-traffic/err_*.json``: 403 ``{"detail":{"error":"Not authenticated"}}``,
404 ``{"detail":"Not Found"}``, 429 ``{"error":{"message":"Model busy, retry later"}}``, a JSON
500), the documented one otherwise.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, List, Optional, Sequence, Tuple, Union

__all__ = [
    "BODY_SHAPES",
    "APIError",
    "default_message",
    "fault_body",
    "message_error",
    "native_error",
    "openai_error",
    "validation_error",
]

BODY_SHAPES = frozenset(
    {
        "auto",
        "error_str",
        "error_msg",
        "error_obj",
        "detail_str",
        "detail_obj",
        "detail_list",
        "text",
    }
)

Loc = Sequence[Union[str, int]]

# Messages DeepInfra (or the proxy in front of it) is reported to use for these statuses.
_MESSAGES = {
    400: "Bad request",
    401: "Not authenticated",
    402: "Payment required: your account balance is insufficient",
    403: "Not authenticated",
    404: "Not Found",
    422: "Unprocessable entity",
    423: "Model is locked, retry later",
    429: "Model busy, retry later",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "No capacity available, retry later",
    504: "Gateway Timeout",
}

# What "auto" means per status: the recorded shape, else the one wire.md reports; 400 depends
# on the route. Native inference and model info answer 403/404 as {"error": str} (wire.md).
_AUTO_SHAPES = {
    401: "error_obj",
    402: "detail_obj",
    403: "detail_obj",
    404: "detail_str",
    422: "detail_list",
    423: "error_str",
    429: "error_msg",
    500: "error_msg",
    502: "text",
    503: "error_str",
    504: "text",
}
_NATIVE_AUTO_SHAPES = {403: "error_str", 404: "error_str"}


class APIError(Exception):
    """An error answer a route wants sent: status, JSON payload or text, extra headers."""

    def __init__(
        self,
        status: int,
        payload: Any = None,
        *,
        text: Optional[str] = None,
        content_type: str = "application/json",
        headers: Sequence[Tuple[str, str]] = (),
    ) -> None:
        super().__init__(f"{status}: {payload if text is None else text}")
        self.status = status
        self.payload = payload
        self.text = text
        self.content_type = content_type
        self.headers: List[Tuple[str, str]] = list(headers)


def default_message(status: int) -> str:
    """A realistic message for ``status``."""
    if status in _MESSAGES:
        return _MESSAGES[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"Error {status}"


def _error_type(status: int) -> str:
    if status == 401:
        return "invalid_request_error"
    if status == 429:
        return "rate_limit_error"
    if status >= 500:
        return "server_error"
    return "invalid_request_error"


def openai_error(
    status: int,
    message: str,
    *,
    type_: Optional[str] = None,
    param: Optional[str] = None,
    code: Optional[str] = None,
) -> APIError:
    """``{"error": {"message", "type", "param", "code"}}``, as the OpenAI-compatible routes say."""
    body = {
        "error": {
            "message": message,
            "type": type_ or _error_type(status),
            "param": param,
            "code": code,
        }
    }
    return APIError(status, body)


def message_error(status: int, message: str) -> APIError:
    """``{"error": {"message": ...}}`` and nothing else, as DeepInfra's 429 and 500 say."""
    return APIError(status, {"error": {"message": message}})


def native_error(status: int, message: str) -> APIError:
    """``{"error": "..."}``, as native inference and model info say."""
    return APIError(status, {"error": message})


def validation_error(
    loc: Loc, msg: str = "field required", type_: str = "value_error.missing", **ctx: Any
) -> APIError:
    """A FastAPI 422: ``{"detail": [{"loc", "msg", "type"}]}``."""
    item: dict[str, Any] = {"loc": list(loc), "msg": msg, "type": type_}
    if ctx:
        item["ctx"] = ctx
    return APIError(422, {"detail": [item]})


def _html(status: int, message: str) -> str:
    title = f"{status} {message}"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    )


def fault_body(status: int, shape: str, message: Optional[str], *, openai_route: bool) -> APIError:
    """The error answer a status fault sends, in ``shape`` (one of :data:`BODY_SHAPES`)."""
    if shape == "auto":
        native = {} if openai_route else _NATIVE_AUTO_SHAPES
        shape = native.get(status) or _AUTO_SHAPES.get(
            status, "error_obj" if openai_route else "error_str"
        )
    if message is None:
        # The 401 shape from before 2024 carried its own word.
        message = "Unauthorised" if (status == 401 and shape == "error_str") else None
        message = message or default_message(status)
    if shape == "error_str":
        return APIError(status, {"error": message})
    if shape == "error_msg":
        return message_error(status, message)
    if shape == "error_obj":
        return openai_error(status, message)
    if shape == "detail_str":
        return APIError(status, {"detail": message})
    if shape == "detail_obj":
        return APIError(status, {"detail": {"error": message}})
    if shape == "detail_list":
        item = {"loc": ["body"], "msg": message, "type": "value_error"}
        return APIError(status, {"detail": [item]})
    if status in (502, 504):
        return APIError(status, text=_html(status, message), content_type="text/html")
    return APIError(status, text=message, content_type="text/plain; charset=utf-8")
