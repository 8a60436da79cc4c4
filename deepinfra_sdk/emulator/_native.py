"""The native route for the model families beyond images, deployments, and webhooks.

``POST /v1/inference/{model}`` is answered by the module of the model's type: speech
recognition (multipart ``audio``), rerankers and text classifiers here, images (and what
:mod:`._inference` serves) otherwise. ``/v1/inference/deploy/{id}`` reaches the model of a
deployment in :data:`DEPLOYMENTS`. With a ``webhook`` the call answers ``queued`` at once
and the answer is POSTed to the webhook afterwards, as DeepInfra does.
"""

from __future__ import annotations

import ipaddress
import json
import threading
import urllib.parse
import urllib.request
from typing import Any, Callable, Dict, Optional

from ._audio import native_asr, native_tts
from ._catalogue import find_model
from ._errors import native_error
from ._multipart import Form
from ._rerank import classify, rerank

__all__ = ["DEPLOYMENTS", "deployed_model", "native_answer", "queue_webhook"]

# Private deployments the emulator knows: deploy id -> the model it runs.
DEPLOYMENTS = {
    "d-emulator-reranker": "BAAI/bge-reranker-v2-m3",
    "d-emulator-classifier": "distilbert/distilbert-base-uncased-finetuned-sst-2-english",
    "d-emulator-images": "black-forest-labs/FLUX-1-schnell",
}

_JSON_BY_TYPE: Dict[str, Callable[[Dict[str, Any], Dict[str, Any], str], Dict[str, Any]]] = {
    "reranker": rerank,
    "text-classification": classify,
    "text-to-speech": native_tts,
}


def deployed_model(deploy_id: str) -> str:
    """The model behind ``deploy_id``; a 404 for an unknown deployment."""
    model = DEPLOYMENTS.get(deploy_id)
    if model is None:
        raise native_error(404, f"Deployment {deploy_id} not found")
    return model


def native_answer(
    name: str, body: Any, form: Optional[Form], request_id: str
) -> Optional[Dict[str, Any]]:
    """The answer of a speech recognition, speech, reranking or classification model;
    None for models of other types (the caller serves those)."""
    entry = find_model(name)
    if entry is None or entry.get("deprecated"):
        return None
    kind = entry["type"]
    if kind == "automatic-speech-recognition":
        if form is None:
            raise native_error(
                400, "send the audio as multipart/form-data with an 'audio' file part"
            )
        return native_asr(entry, form, request_id)
    serve = _JSON_BY_TYPE.get(kind)
    if serve is None:
        return None
    if not isinstance(body, dict):
        raise native_error(400, "send a JSON object body")
    return serve(entry, body, request_id)


# No proxy from the environment: a webhook goes straight to the loopback address it names.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _is_loopback(url: str) -> bool:
    """Whether ``url``'s host is ``localhost`` or a loopback IP literal (no name lookup)."""
    try:
        host = urllib.parse.urlsplit(url).hostname
    except ValueError:
        return False
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _deliver(url: str, payload: Dict[str, Any]) -> None:
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with _DIRECT.open(request, timeout=10) as answer:
            answer.read()
    except OSError:
        pass  # DeepInfra retries a few times and gives up; the emulator tries once


def queue_webhook(url: Any, request_id: str, result: Dict[str, Any]) -> Dict[str, Any]:
    """The ``queued`` answer of a call with a webhook; ``result`` (the answer, worked out
    already, so a bad request still fails at once) is POSTed to ``url`` in the background,
    as ``{"request_id", "inference_status", "results"}``."""
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise native_error(422, "webhook must be an http(s) URL")
    if not _is_loopback(url):
        # A local test server must never make this machine post to another host.
        raise native_error(
            422,
            "the emulator delivers webhooks only to loopback addresses "
            "(localhost, 127.0.0.0/8, [::1]); run your receiver on one of them",
        )
    status = dict(result.get("inference_status") or {}, status="succeeded")
    results = {k: v for k, v in result.items() if k not in ("request_id", "inference_status")}
    payload = {"request_id": request_id, "inference_status": status, "results": results}
    threading.Thread(target=_deliver, args=(url, payload), name="webhook", daemon=True).start()
    return {
        "request_id": request_id,
        "inference_status": {
            "status": "queued",
            "runtime_ms": 0,
            "cost": 0.0,
            "tokens_generated": 0,
            "tokens_input": 0,
        },
    }
