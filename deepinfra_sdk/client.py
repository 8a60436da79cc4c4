"""DeepInfraClient: the synchronous, blocking client."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Optional

from . import _constants as C
from ._config import ClientConfig, Timeout, TimeoutTypes, redact_url
from ._exceptions import NotFoundError
from ._keywords import strict_keywords
from ._usage import UsageMeter
from ._validation import check_call_options, check_request_size
from .resources import (
    Audio,
    Batches,
    Chat,
    Embeddings,
    Files,
    Images,
    Inference,
    Models,
    Rerank,
    TextCompletions,
)

if TYPE_CHECKING:
    import requests

    from ._http import HTTPResponse, HTTPTransport
    from ._multipart import MultipartBody

__all__ = ["DeepInfraClient"]


class DeepInfraClient:
    """A synchronous client for DeepInfra's API, safe to share between threads.

    Configuration comes from the arguments, then the environment (``DEEPINFRA_API_KEY``,
    ``DEEPINFRA_TOKEN``, ``DEEPINFRA_API_TOKEN``; ``DEEPINFRA_BASE_URL``), then defaults.

    Args:
        api_key: the DeepInfra API key. Calls that need one fail before sending without
            it, except against a loopback base URL (a local emulator or proxy).
        base_url: the API root, ``https://api.deepinfra.com`` by default.
        timeout: seconds for connect and read, a ``(connect, read)`` pair, or a
            :class:`Timeout` with an optional total deadline for streams.
        max_retries: retries for requests that provably did not bill (see the docs).
        default_headers: extra headers sent with every request.
        session: a ``requests.Session`` to use instead of the client's own.
        pool_maxsize: connections kept per host (concurrent streams need one each).
        proxy: a proxy URL for http and https.
        allow_insecure: allow sending the key over plain ``http://`` to a host that is
            not loopback (refused by default: the key would travel unencrypted). The
            environment variable ``DEEPINFRA_ALLOW_INSECURE_HTTP=1`` does the same.
        max_response_bytes: the most body bytes one answer may bring (a non-stream
            answer, or a stream's whole body); more raises
            :class:`~deepinfra_sdk.APIResponseTooLargeError`. 256 MiB by default.

    Use it as a context manager, or call :meth:`close`, to release pooled connections.
    The client pickles as its configuration and rebuilds its connections lazily, also
    after ``os.fork()``. A ``session`` you passed in is not carried over to the copy or
    the child (its pooled sockets belong to this process): they build their own session
    from the same configuration (base URL, key, timeouts, headers, proxy).

    ``usage`` is a :class:`UsageMeter` of the tokens and cost of every answer so far; a
    copy made by pickling, like the client in a forked child, starts with a fresh one.
    """

    models: Models
    chat: Chat
    images: Images
    embeddings: Embeddings
    files: Files
    batches: Batches
    audio: Audio
    rerank: Rerank
    inference: Inference
    completions: TextCompletions
    usage: UsageMeter

    @strict_keywords
    def __init__(
        self,
        api_key: Optional[str] = None,
        *,
        base_url: Optional[str] = None,
        timeout: TimeoutTypes = None,
        max_retries: int = C.DEFAULT_MAX_RETRIES,
        default_headers: Optional[Mapping[str, str]] = None,
        session: Optional[requests.Session] = None,
        pool_maxsize: int = C.DEFAULT_POOL_MAXSIZE,
        proxy: Optional[str] = None,
        allow_insecure: bool = False,
        max_response_bytes: int = C.DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        config = ClientConfig.resolve(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            default_headers=default_headers,
            pool_maxsize=pool_maxsize,
            proxy=proxy,
            allow_insecure=allow_insecure,
            max_response_bytes=max_response_bytes,
        )
        self._setup(config, session)

    def _setup(self, config: ClientConfig, session: Optional[requests.Session]) -> None:
        self._config = config
        self._session = session
        self._transport_obj: Optional[HTTPTransport] = None
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._closed = False
        self.models = Models(self)
        self.chat = Chat(self)
        self.images = Images(self)
        self.embeddings = Embeddings(self)
        self.files = Files(self)
        self.batches = Batches(self)
        self.audio = Audio(self)
        self.rerank = Rerank(self)
        self.inference = Inference(self)
        self.completions = TextCompletions(self)
        self.usage = UsageMeter()

    # -- configuration -------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The API root in use."""
        return self._config.base_url

    @property
    def timeout(self) -> Timeout:
        """The timeouts in use."""
        return self._config.timeout

    @property
    def max_retries(self) -> int:
        """How many times a retryable failure is retried."""
        return self._config.max_retries

    @property
    def has_api_key(self) -> bool:
        """Whether a key is configured (the key itself is never exposed)."""
        return bool(self._config.api_key)

    @property
    def config(self) -> ClientConfig:
        """The resolved configuration (its repr hides the key)."""
        return self._config

    # -- transport -------------------------------------------------------------------------

    @property
    def _transport(self) -> HTTPTransport:
        transport = self._transport_obj
        if transport is not None and self._pid == os.getpid():
            return transport
        with self._lock:
            if self._pid != os.getpid():
                # After fork the parent's pooled sockets are shared: never touch them.
                self._transport_obj = None
                self._pid = os.getpid()
                self._session = None
            if self._transport_obj is None:
                if self._closed:
                    raise RuntimeError("this DeepInfraClient is closed; create a new one")
                # Imported here so that `import deepinfra_sdk` does not load requests.
                from ._http import HTTPTransport

                self._transport_obj = HTTPTransport(self._config, self._session)
            return self._transport_obj

    def _send(
        self,
        method: str,
        path: str,
        payload: Any = None,
        *,
        model: Optional[str] = None,
        stream: bool = False,
        needs_auth: bool = True,
        timeout: TimeoutTypes = None,
        extra_headers: Optional[Mapping[str, Optional[str]]] = None,
        max_retries: Optional[int] = None,
        upload: Optional[MultipartBody] = None,
        accept: Optional[str] = None,
        bounded: bool = True,
    ) -> HTTPResponse:
        """Send a request; a model known to be deprecated is warned about (once per client),
        and a 404 naming a deprecated model names its replacement.

        ``timeout``, ``extra_headers`` and ``max_retries`` are a public method's per-call
        options (see :func:`check_call_options`). ``upload`` is a multipart body streamed
        from its files (instead of ``payload``); ``accept`` overrides the ``Accept`` header
        (an event stream's by default); ``bounded=False`` lifts ``max_response_bytes`` for
        a body streamed to disk. A body over ``MAX_REQUEST_BYTES`` is refused here, before
        any connection is made.
        """
        call_timeout = check_call_options(timeout, extra_headers, max_retries)
        if payload is not None:
            check_request_size(payload)
        if model:
            self.models._check_deprecated(model)
        try:
            return self._transport.request(
                method,
                path,
                json_body=payload,
                upload=upload,
                needs_auth=needs_auth,
                stream=stream,
                accept=accept or ("text/event-stream" if stream else None),
                timeout=call_timeout,
                extra_headers=extra_headers,
                max_retries=max_retries,
                bounded=bounded,
            )
        except NotFoundError as err:
            if model:
                replacement = self.models.replacement_for(model)
                if replacement and replacement not in err.message:
                    if "deprecated" in err.message.lower():
                        note = f"; use {replacement!r} instead"
                    else:
                        note = f" (model {model!r} is deprecated; use {replacement!r} instead)"
                    err.message = err.message.rstrip(". ") + note
                    err.args = (err.message,)
            raise

    def close(self) -> None:
        """Release pooled connections. The client cannot be used afterwards."""
        with self._lock:
            self._closed = True
            if self._transport_obj is not None and self._pid == os.getpid():
                self._transport_obj.close()
            self._transport_obj = None

    def __enter__(self) -> DeepInfraClient:
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        # Never raises: traceback formatters that show locals call it on half-built clients.
        config = getattr(self, "_config", None)
        if not isinstance(config, ClientConfig):
            return "<DeepInfraClient (not configured)>"
        key = "set" if config.api_key else "none"
        return f"<DeepInfraClient base_url={redact_url(config.base_url)!r} api_key={key}>"

    # Pickling carries the configuration only; connections are rebuilt where it lands.
    def __getstate__(self) -> dict[str, Any]:
        return {"config": self._config}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._setup(state["config"], None)
