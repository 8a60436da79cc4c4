"""Routing a parsed request to its answer, with authentication and body checks.

Routes are pure: a :class:`Request` in, a :class:`~._reply.Reply` out, nothing about
sockets or faults. Paths, shapes and errors follow DeepInfra's (see docs/emulator.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional
from urllib.parse import unquote

from . import _batches as _batches_module
from ._audio import speech, transcription
from ._batches import BatchService
from ._catalogue import CATALOGUE, CREATED, FEATURED, find_model, native_model, synthetic_model
from ._chat import plan_chat
from ._chat_extras import PromptCache
from ._completions import plan_completion
from ._embeddings import embeddings_response
from ._errors import APIError, native_error, openai_error, validation_error
from ._inference import MODEL_NAME_RE, native_inference, openai_image_edits, openai_images
from ._multipart import Form
from ._native import deployed_model, native_answer, queue_webhook
from ._native_text import native_embeddings, native_generation
from ._recording import Headers
from ._reply import Reply
from ._schema import model_schema

__all__ = ["Request", "route"]

_OPENAI = "/v1/openai"
# Room for the form around an uploaded file: its part headers and the purpose/expiry fields.
_FORM_OVERHEAD = 1 << 20
_SSE_HEADERS = [("Cache-Control", "no-cache"), ("X-Accel-Buffering", "no")]


@dataclass
class Request:
    """A request as the routes see it."""

    method: str
    path: str
    headers: Headers
    json: Any
    json_error: Optional[str]
    request_id: str
    authorized: bool
    answer_tokens: int
    shapes: str = "recorded"
    any_model: bool = False
    query: Dict[str, str] = field(default_factory=dict)
    batches: Optional[BatchService] = None
    form: Optional[Form] = None  # a multipart body, parsed (its files spooled)
    prompt_cache: Optional[PromptCache] = None  # the emulator's, for cached_tokens


def _allow(req: Request, method: str) -> None:
    if req.method != method:
        raise APIError(405, {"detail": "Method Not Allowed"}, headers=[("Allow", method)])


def _auth(req: Request) -> None:
    if not req.authorized:
        raise openai_error(401, "Not authenticated", type_="invalid_request_error")


def _body(req: Request, openai_style: bool) -> Dict[str, Any]:
    if req.json_error is not None:
        message = f"Invalid JSON body: {req.json_error}"
        raise openai_error(400, message) if openai_style else native_error(400, message)
    if req.json is None:
        raise validation_error(["body"])
    if not isinstance(req.json, dict):
        raise validation_error(["body"], "value is not a valid dict", "type_error.dict")
    return req.json


def _form(req: Request, openai_style: bool) -> Form:
    if req.form is None:
        message = "send this request as multipart/form-data (it carries a file)"
        raise openai_error(400, message) if openai_style else native_error(400, message)
    return req.form


def _model_name(rest: str) -> str:
    name = unquote(rest)
    if not MODEL_NAME_RE.match(name):
        raise native_error(404, f"Model {name!r} not found")
    return name


def _openai_model(entry: Dict[str, Any], index: int) -> Dict[str, Any]:
    name = str(entry["model_name"])
    return {
        "id": name,
        "object": "model",
        "created": CREATED + index * 86400,
        "owned_by": name.split("/", 1)[0],
        "root": name,
        "parent": None,
        "metadata": {
            "description": entry.get("description"),
            "context_length": entry.get("max_tokens"),
            "max_tokens": entry.get("max_tokens"),
            "pricing": entry.get("pricing"),
            "tags": entry.get("tags") or [],
        },
    }


def _listed() -> List[Dict[str, Any]]:
    return [_openai_model(e, i) for i, e in enumerate(CATALOGUE) if not e.get("deprecated")]


def _model_info(req: Request, rest: str) -> Reply:
    _allow(req, "GET")
    _auth(req)
    rest, schema, variant = rest.partition("/schema/")
    name = _model_name(rest)
    entry = find_model(name)
    if entry is None and req.any_model:
        entry = synthetic_model(name, "text-generation")
    if entry is None:
        raise native_error(404, f"Model {name} not found")
    if schema:
        return Reply(payload=model_schema(entry, unquote(variant)))
    return Reply(payload=entry)


def _openai_model_info(req: Request, rest: str) -> Reply:
    _allow(req, "GET")
    _auth(req)
    name = unquote(rest)
    for model in _listed():
        if model["id"] == name:
            return Reply(payload=model)
    raise openai_error(404, f"The model `{name}` does not exist", code="model_not_found")


def _chat(req: Request) -> Reply:
    _allow(req, "POST")
    _auth(req)
    plan = plan_chat(
        _body(req, True), req.answer_tokens, req.shapes, req.any_model, req.prompt_cache
    )
    if plan.stream:
        return Reply(
            content_type="text/event-stream", headers=list(_SSE_HEADERS), events=plan.events()
        )
    return Reply(payload=plan.completion())


def _post(
    handler: Callable[[Dict[str, Any], Request], Dict[str, Any]],
) -> Callable[[Request], Reply]:
    def serve(req: Request) -> Reply:
        _allow(req, "POST")
        _auth(req)
        return Reply(payload=handler(_body(req, True), req))

    return serve


# Native inference by model type; image models (type or reported type) are the default.
_NATIVE_BY_TYPE: Dict[str, Callable[[Dict[str, Any], Dict[str, Any], Request], Reply]] = {
    "text-generation": lambda entry, body, req: native_generation(
        entry, body, req.request_id, req.answer_tokens
    ),
    "embeddings": lambda entry, body, req: native_embeddings(entry, body, req.request_id),
}


def _native(req: Request, rest: str) -> Reply:
    _allow(req, "POST")
    _auth(req)
    form = req.form
    if rest.startswith("deploy/"):
        name = deployed_model(unquote(rest[len("deploy/") :]))
    else:
        name = _model_name(rest)
    # Speech recognition, rerankers and classifiers (a form, for speech); then the others.
    answer = native_answer(name, req.json, form, req.request_id)
    if answer is not None:
        reply = Reply(payload=answer)
    else:
        body = _body(req, False)
        entry = native_model(name, body, req.any_model)
        serve = _NATIVE_BY_TYPE.get(entry["type"])
        if serve is not None:
            reply = serve(entry, body, req)
        else:
            reply = Reply(payload=native_inference(name, body, req.request_id, entry))
    if form is not None:
        webhook = form.get("webhook")
    else:
        webhook = req.json.get("webhook") if isinstance(req.json, dict) else None
    if webhook is not None and reply.events is None and isinstance(reply.payload, dict):
        return Reply(payload=queue_webhook(webhook, req.request_id, reply.payload))
    return reply


def _transcribe(translate: bool) -> Callable[[Request], Reply]:
    def serve(req: Request) -> Reply:
        _allow(req, "POST")
        _auth(req)
        answer, content_type = transcription(_form(req, True), translate)
        if isinstance(answer, str):
            return Reply(text=answer, content_type=content_type)
        return Reply(payload=answer)

    return serve


def _speech(req: Request) -> Reply:
    _allow(req, "POST")
    _auth(req)
    audio, content_type = speech(_body(req, True))
    return Reply(data=audio, content_type=content_type)


def _completions(req: Request) -> Reply:
    _allow(req, "POST")
    _auth(req)
    stream, answer = plan_completion(_body(req, True), req.answer_tokens)
    if stream:
        return Reply(content_type="text/event-stream", headers=list(_SSE_HEADERS), events=answer)
    return Reply(payload=answer)


def _image_edits(req: Request) -> Reply:
    _allow(req, "POST")
    _auth(req)
    return Reply(payload=openai_image_edits(_form(req, True)))


def _openai_models(req: Request) -> Reply:
    _allow(req, "GET")
    _auth(req)
    return Reply(payload={"object": "list", "data": _listed()})


def _list(req: Request, models: Callable[[], Any]) -> Reply:
    _allow(req, "GET")
    return Reply(payload=models())


def _service(req: Request, rest: str) -> BatchService:
    _auth(req)
    if req.batches is None or rest[:1] not in ("", "/"):
        raise APIError(404, {"detail": "Not Found"})
    return req.batches


def _files(req: Request, rest: str) -> Reply:
    service = _service(req, rest)
    file_id, _, tail = rest.lstrip("/").partition("/")
    if not file_id:
        if req.method == "POST":
            return Reply(payload=_upload(service, req))
        _allow(req, "GET")
        return Reply(payload=service.list_files(req.query))
    if tail == "content":
        _allow(req, "GET")
        return Reply(data=service.file_content(file_id), content_type="application/octet-stream")
    if tail:
        raise APIError(404, {"detail": "Not Found"})
    if req.method == "DELETE":
        return Reply(payload=service.delete_file(file_id))
    _allow(req, "GET")
    return Reply(payload=service.get_file(file_id))


def form_limit(method: str, path: str) -> Optional[int]:
    """The most bytes a multipart body may bring to ``path``: DeepInfra's file limit
    (512 MB, and a little for the form around it) for a file upload, the parser's default
    (None) elsewhere. Uploads are spooled to disk, so memory stays bounded either way."""
    if method == "POST" and path.rstrip("/") == f"{_OPENAI}/files":
        return _batches_module.MAX_FILE_BYTES + _FORM_OVERHEAD
    return None


def _upload(service: BatchService, req: Request) -> Dict[str, Any]:
    form = req.form
    upload = form.file("file") if form is not None else None
    if form is None or upload is None:
        raise openai_error(400, "Upload the file as multipart/form-data part 'file'", param="file")
    seconds = form.get("expires_after[seconds]")
    try:
        expires = int(seconds) if seconds is not None else None
    except ValueError:
        raise openai_error(
            400, "expires_after[seconds] must be a number", param="expires_after"
        ) from None
    spool, upload.spool = upload.spool, None  # the service keeps it (on disk): no copy
    return service.add_file(
        spool if spool is not None else b"", upload.filename, form.get("purpose") or "", expires
    )


def _batches(req: Request, rest: str) -> Reply:
    service = _service(req, rest)
    batch_id, _, tail = rest.lstrip("/").partition("/")
    if not batch_id:
        if req.method == "POST":
            return Reply(payload=service.create_batch(_body(req, True)))
        _allow(req, "GET")
        return Reply(payload=service.list_batches(req.query))
    if tail == "cancel":
        _allow(req, "POST")
        return Reply(payload=service.cancel_batch(batch_id))
    if tail:
        raise APIError(404, {"detail": "Not Found"})
    _allow(req, "GET")
    return Reply(payload=service.get_batch(batch_id))


_EXACT: Dict[str, Callable[[Request], Reply]] = {
    # Replies are encoded at once, in this thread: no need to copy the catalogue first.
    "/models/featured": lambda req: _list(req, lambda: [find_model(n) for n in FEATURED]),
    "/models/list": lambda req: _list(req, lambda: CATALOGUE),
    f"{_OPENAI}/models": _openai_models,
    f"{_OPENAI}/chat/completions": _chat,
    f"{_OPENAI}/completions": _completions,
    f"{_OPENAI}/audio/transcriptions": _transcribe(translate=False),
    f"{_OPENAI}/audio/translations": _transcribe(translate=True),
    f"{_OPENAI}/audio/speech": _speech,
    f"{_OPENAI}/images/edits": _image_edits,
    f"{_OPENAI}/embeddings": _post(
        lambda body, req: embeddings_response(body, req.shapes, req.any_model)
    ),
    f"{_OPENAI}/images/generations": _post(lambda body, req: openai_images(body, req.any_model)),
}

_PREFIXED: Dict[str, Callable[[Request, str], Reply]] = {
    "/models/": _model_info,
    f"{_OPENAI}/models/": _openai_model_info,
    "/v1/inference/": _native,
    f"{_OPENAI}/files": _files,
    f"{_OPENAI}/batches": _batches,
}


def route(req: Request) -> Reply:
    """The answer to ``req`` (errors included, as replies)."""
    try:
        exact = _EXACT.get(req.path)
        if exact is not None:
            return exact(req)
        for prefix, handler in _PREFIXED.items():
            if req.path.startswith(prefix):
                return handler(req, req.path[len(prefix) :])
        raise APIError(404, {"detail": "Not Found"})
    except APIError as error:
        return Reply.from_error(error)
