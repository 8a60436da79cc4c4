"""``client.models``: the model catalogue, cached, split into text and image models."""

from __future__ import annotations

import builtins
import datetime
import os
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Optional
from urllib.parse import quote

from .. import _cancel
from .. import _constants as C
from .._config import TimeoutTypes
from .._exceptions import APIError, APIResponseValidationError, ArgumentValueError
from .._keywords import strict_keywords
from .._validation import model_path
from .._warnings import warn
from ..types import Model, ModelSchema, OpenAIModel
from ._base import Resource, answer_of, call_options, decode_result, stamp_request_id

if TYPE_CHECKING:
    from ..client import DeepInfraClient

__all__ = ["Models"]

_TEXT_TYPE = "text-generation"
_IMAGE_TYPE = "text-to-image"


class _Fetch:
    """One request for a model list, shared by every thread that asked while it ran."""

    __slots__ = ("cancelled", "done", "error", "models")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.models: builtins.list[Model] = []
        self.error: Optional[BaseException] = None
        # The fetching call was cancelled: its error is its own, not the waiters'.
        self.cancelled = False


class Models(Resource):
    """List DeepInfra's models. Lists are cached per client for ``MODELS_CACHE_TTL`` seconds.

    Many threads asking at once cause a single request: the first fetches, the rest wait
    for its answer (or its error). No lock is held across the request, so a fork while it
    runs cannot leave the child waiting for a thread that does not exist there.
    """

    __slots__ = ("_cache", "_deprecated", "_inflight", "_lock", "_pid", "_warned")

    def __init__(self, client: DeepInfraClient) -> None:
        super().__init__(client)
        self._cache: dict[bool, tuple[float, builtins.list[Model]]] = {}
        # The deprecated models of every list fetched so far, and those already warned about.
        self._deprecated: dict[str, Model] = {}
        self._warned: set[str] = set()
        self._reset_sync()

    def _reset_sync(self) -> None:
        self._lock = threading.Lock()
        self._inflight: dict[bool, _Fetch] = {}
        self._pid = os.getpid()

    @strict_keywords
    def list(
        self,
        *,
        refresh: bool = False,
        featured: bool = True,
        timeout: TimeoutTypes = None,
        extra_headers: Optional[Mapping[str, Optional[str]]] = None,
        max_retries: Optional[int] = None,
    ) -> builtins.list[Model]:
        """The featured models (``GET /models/featured``), or all public ones with
        ``featured=False`` (``GET /models/list``). ``refresh=True`` re-fetches.

        ``timeout``, ``extra_headers`` and ``max_retries`` apply to this call's request,
        when it makes one (a cached list, or another thread's fetch, answers without).
        """
        options = call_options(timeout, extra_headers, max_retries)
        asked = time.monotonic()
        entry = self._cache.get(featured)
        if entry is not None and not refresh and asked - entry[0] < C.MODELS_CACHE_TTL:
            return list(entry[1])
        if self._pid != os.getpid():
            # In a forked child the parent's fetching threads are gone: start afresh.
            self._reset_sync()
        while True:
            with self._lock:
                fetch = self._inflight.get(featured)
                # A fetch still running answers after this call was made: fresh enough
                # even for refresh=True, so many refreshing threads still make one request.
                owner = fetch is None
                if owner:
                    fetch = self._inflight[featured] = _Fetch()
            assert fetch is not None
            if owner:
                try:
                    fetch.models = self._fetch(featured, options)
                    self._cache[featured] = (time.monotonic(), fetch.models)
                    self._deprecated.update(
                        (m.model_name, m) for m in fetch.models if m.is_deprecated
                    )
                except BaseException as exc:
                    fetch.error = exc
                    guard = _cancel.current()
                    fetch.cancelled = guard is not None and guard.aborted
                    raise
                finally:
                    with self._lock:
                        if self._inflight.get(featured) is fetch:
                            del self._inflight[featured]
                    fetch.done.set()
            else:
                fetch.done.wait()
                if fetch.error is not None:
                    mine = _cancel.current()
                    if fetch.cancelled and not (mine is not None and mine.aborted):
                        continue  # the fetching call was cancelled, not this one: fetch again
                    raise fetch.error
            return list(fetch.models)

    def _fetch(self, featured: bool, options: dict[str, Any]) -> builtins.list[Model]:
        path = "/models/featured" if featured else "/models/list"
        try:
            response = self._client._send(
                "GET",
                path,
                needs_auth=False,
                **options,
            )
            data = response.json()
        except APIError as err:
            # "Internal Server Error" alone does not say that the model list failed, nor
            # which URL to check: the endpoint leads the message.
            if path not in err.message:
                err.message = f"the model list (GET {path}) failed: {err.message}"
                err.args = (err.message,)
            raise
        if not isinstance(data, list):
            raise APIResponseValidationError(
                f"GET {path} should return a JSON array of models, got {type(data).__name__}",
                body=data,
            )
        return [Model.from_wire(item) for item in data if isinstance(item, dict)]

    @strict_keywords
    def text_models(
        self,
        *,
        refresh: bool = False,
        include_deprecated: bool = False,
        timeout: TimeoutTypes = None,
        extra_headers: Optional[Mapping[str, Optional[str]]] = None,
        max_retries: Optional[int] = None,
    ) -> builtins.list[str]:
        """Names of the featured text models (``type == "text-generation"``); the
        per-call options are those of :meth:`list`.

        Deprecated models (``Model.deprecated`` set; ``Model.replaced_by`` names the
        successor) are left out unless ``include_deprecated=True``.
        """
        models = self.list(
            refresh=refresh, timeout=timeout, extra_headers=extra_headers, max_retries=max_retries
        )
        return [
            m.model_name
            for m in models
            if m.type == _TEXT_TYPE and (include_deprecated or not m.is_deprecated)
        ]

    @strict_keywords
    def image_models(
        self,
        *,
        refresh: bool = False,
        include_deprecated: bool = False,
        timeout: TimeoutTypes = None,
        extra_headers: Optional[Mapping[str, Optional[str]]] = None,
        max_retries: Optional[int] = None,
    ) -> builtins.list[str]:
        """Names of the featured image models (``reported_type == "text-to-image"``); the
        per-call options are those of :meth:`list`.

        Deprecated models are left out unless ``include_deprecated=True``.
        """
        models = self.list(
            refresh=refresh, timeout=timeout, extra_headers=extra_headers, max_retries=max_retries
        )
        return [
            m.model_name
            for m in models
            if m.reported_type == _IMAGE_TYPE and (include_deprecated or not m.is_deprecated)
        ]

    def _check_deprecated(self, name: str) -> None:
        """Warn, once per client, when ``name`` is a deprecated model of a list fetched so
        far (no request is made for it: a dict lookup on every call)."""
        entry = self._deprecated.get(name)
        if entry is None or name in self._warned:
            return
        self._warned.add(name)
        warn(deprecation_note(entry))

    @strict_keywords
    def get(
        self,
        name: str,
        *,
        timeout: TimeoutTypes = None,
        extra_headers: Optional[Mapping[str, Optional[str]]] = None,
        max_retries: Optional[int] = None,
    ) -> Model:
        """One model's information (``GET /models/{name}``); ``timeout``,
        ``extra_headers`` and ``max_retries`` override the client's for this call."""
        response = self._client._send(
            "GET",
            model_path("/models", name),
            timeout=timeout,
            extra_headers=extra_headers,
            max_retries=max_retries,
        )
        return decode_result(
            response,
            Model,
            what=f"GET /models/{name}: the model description",
            require=("model_name", str),
        )

    @strict_keywords
    def cached(self, name: str) -> Optional[Model]:
        """The model from any list fetched so far, without a request (None if unknown)."""
        for _, models in list(self._cache.values()):
            for model in models:
                if model.model_name == name:
                    return model
        return None

    @strict_keywords
    def replacement_for(self, name: str) -> Optional[str]:
        """The ``replaced_by`` of a deprecated model, from the cache or one lookup."""
        model = self.cached(name)
        if model is None:
            try:
                model = self.get(name)
            except (APIError, ValueError):
                return None
        return model.replaced_by if model.replaced_by else None

    @strict_keywords
    def schema(
        self,
        model: str,
        variant: str = "default",
        *,
        timeout: TimeoutTypes = None,
        extra_headers: Optional[Mapping[str, Optional[str]]] = None,
        max_retries: Optional[int] = None,
    ) -> ModelSchema:
        """What ``model`` takes and gives (``GET /models/{model}/schema/{variant}``):
        ``variant="default"`` is its native route (what ``client.inference.run`` sends);
        ``openai-chat-completions``, ``openai-embeddings``, ``openai-images``... its
        OpenAI-compatible ones. ``fields_in`` lists the input names."""
        if not isinstance(variant, str) or not variant or "/" in variant or ".." in variant:
            raise ArgumentValueError(f"variant must be a name such as 'default', not {variant!r}")
        path = model_path("/models", model) + "/schema/" + quote(variant, safe="")
        response = self._client._send(
            "GET",
            path,
            timeout=timeout,
            extra_headers=extra_headers,
            max_retries=max_retries,
        )
        return decode_result(response, ModelSchema, what=f"the schema of {model}")

    @strict_keywords
    def list_openai(
        self,
        *,
        timeout: TimeoutTypes = None,
        extra_headers: Optional[Mapping[str, Optional[str]]] = None,
        max_retries: Optional[int] = None,
    ) -> builtins.list[OpenAIModel]:
        """The models in OpenAI's shape (``GET /v1/openai/models``): ``id``, ``owned_by``,
        ``created``, and ``metadata`` with pricing and context length where given."""
        response = self._client._send(
            "GET",
            C.OPENAI_PREFIX + "/models",
            timeout=timeout,
            extra_headers=extra_headers,
            max_retries=max_retries,
        )
        data = response.json()
        with answer_of(response):
            if not isinstance(data, dict) or not isinstance(data.get("data"), list):
                raise APIResponseValidationError(
                    "GET /v1/openai/models should return {'data': [...]}", body=data
                )
            return [
                stamp_request_id(OpenAIModel.from_wire(item), response)
                for item in data["data"]
                if isinstance(item, dict)
            ]


def deprecation_note(model: Model) -> str:
    """One line on a deprecated model: since when (or until when) and what replaces it."""
    try:
        when = datetime.datetime.fromtimestamp(float(model.deprecated or 0), datetime.timezone.utc)
        day = when.date().isoformat()
    except (OverflowError, OSError, ValueError, TypeError):
        when, day = None, "an unknown date"
    if when is not None and when.timestamp() > time.time():
        state = f"is deprecated and will stop being served on {day}"
    else:
        state = f"was deprecated on {day}, and the API may refuse it (404)"
    if model.replaced_by:
        return f"model {model.model_name!r} {state}: use {model.replaced_by!r} instead"
    return f"model {model.model_name!r} {state}: pick a current one from client.models.list()"
