"""``client.inference``: DeepInfra's native route for any model, and the one place that
sends to it (image generation and rerank go through :func:`send_native` too)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Optional, TypeVar

from .._config import TimeoutTypes
from .._exceptions import ArgumentTypeError
from .._multipart import MultipartBody, is_file_input
from .._validation import native_path
from ..types import InferenceResult
from ._base import Resource, call_options, decode_result

if TYPE_CHECKING:
    from .._http import HTTPResponse
    from ..client import DeepInfraClient
    from ..types import _JsonMixin

__all__ = ["Inference", "native_result", "send_native"]

T = TypeVar("T", bound="_JsonMixin")


def send_native(
    client: DeepInfraClient,
    model: str,
    inputs: Mapping[str, Any],
    options: Optional[Mapping[str, Any]] = None,
) -> HTTPResponse:
    """``POST /v1/inference/{model}`` (or ``/deploy/{id}`` for ``deploy_id:ID``) with
    ``inputs``: JSON, or multipart streamed from disk when an input is a file, a
    ``pathlib.Path`` or bytes (other inputs then travel as form fields, lists as JSON).
    ``options`` are the call's ``timeout``/``extra_headers``/``max_retries``."""
    path = native_path(model)
    options = options or {}
    files = [(k, v) for k, v in inputs.items() if v is not None and is_file_input(v)]
    if not files:
        return client._send("POST", path, dict(inputs), model=model, **options)
    fields = [(k, v) for k, v in inputs.items() if v is not None and not is_file_input(v)]
    upload = MultipartBody(fields, files)
    return client._send("POST", path, model=model, upload=upload, **options)


def native_result(
    client: DeepInfraClient,
    model: str,
    response: HTTPResponse,
    cls: type[T] = InferenceResult,  # type: ignore[assignment]
    data: Any = None,
) -> T:
    """The native answer (``data`` if already read) decoded as ``cls``, its request id from
    the header or else the body, its ``inference_status`` counted in the usage meter."""
    result = decode_result(response, cls, what=f"the answer of {model}", data=data)
    body_id = result._wire.get("request_id")
    if result.request_id is None and isinstance(body_id, str):
        result.request_id = body_id
    client.usage._record_native(model, getattr(result, "inference_status", None))
    return result


class Inference(Resource):
    """``POST /v1/inference/{model}``: every model on DeepInfra, in its own native shape."""

    __slots__ = ()

    def run(
        self,
        /,
        model: str,
        inputs: Optional[Mapping[str, Any]] = None,
        *,
        webhook: Optional[str] = None,
        timeout: TimeoutTypes = None,
        extra_headers: Optional[Mapping[str, Optional[str]]] = None,
        max_retries: Optional[int] = None,
        **more_inputs: Any,
    ) -> InferenceResult:
        """Run ``model`` on its native route; read ``client.models.schema(model)`` for
        what it takes.

        The inputs are the model's own fields, given as a mapping, as keywords, or both
        (keywords win): ``run("openai/whisper-large-v3", audio=Path("a.wav"))``. Unlike
        other methods, ``**more_inputs`` deliberately accepts any name: the model's schema,
        not the SDK, decides which are valid (a wrong one comes back as the server's 422);
        ``timeout``, ``extra_headers`` and ``max_retries`` are this call's options, as on
        every method (a model input of one of those names goes in ``inputs``).
        An input that is a file object, a ``pathlib.Path``, bytes or a ``(filename, data)``
        tuple makes the request multipart, streamed from disk; a plain ``str`` is text.

        Args:
            model: ``owner/name[:version]``, or ``deploy_id:ID`` for a custom deployment.
            inputs: the model's inputs as a mapping (for names that are not identifiers).
            webhook: a URL DeepInfra POSTs the answer to; the call then returns at once
                with ``status == "queued"``.
            timeout: this call's timeout (seconds, a ``(connect, read)`` pair or a
                :class:`~deepinfra_sdk.Timeout`) instead of the client's.
            extra_headers: headers added to this request (``None`` drops one).
            max_retries: this call's retry budget instead of the client's.

        Returns:
            An :class:`~deepinfra_sdk.types.InferenceResult`: ``.body`` (the JSON answer),
            ``.inference_status``, ``.status``, ``.cost``, ``.request_id``.
        """
        if inputs is not None and not isinstance(inputs, Mapping):
            raise ArgumentTypeError(
                f"inputs must be a mapping of the model's input names to values, not "
                f"{type(inputs).__name__} (e.g. inputs={{'prompt': 'a cat'}})"
            )
        payload = {**(inputs or {}), **more_inputs}
        if webhook is not None:
            payload["webhook"] = webhook
        client = self._client
        options = call_options(timeout, extra_headers, max_retries)
        return native_result(client, model, send_native(client, model, payload, options))
