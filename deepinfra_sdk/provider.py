"""DeepInfra: the provider-style class methods, over shared SDK clients.

Code written against the g4f-style ``DeepInfra`` provider keeps working once its import reads
``from deepinfra_sdk import DeepInfra``::

    messages = [{"role": "user", "content": "Write a short poem about spring."}]
    async for chunk in DeepInfra.create_async_generator(
        model=DeepInfra.default_model, messages=messages, stream=True
    ):
        print(chunk, end="")
    image = await DeepInfra.create_async_image(prompt="A city at sunset", model="stabilityai/sd3.5")
    print(image)  # markdown, [![A city at sunset](data:image/png;base64,...)](...)

Every call goes through a :class:`~deepinfra_sdk.DeepInfraClient` taken from a small private
cache keyed by the resolved configuration (key, base URL, proxy, timeout, headers), so repeated
calls reuse pooled connections. The environment (``DEEPINFRA_API_KEY``, ``DEEPINFRA_TOKEN``,
``DEEPINFRA_API_TOKEN``, ``DEEPINFRA_BASE_URL``) is read at each call, not at import. The async
methods run that client through :class:`~deepinfra_sdk.AsyncDeepInfraClient` (worker threads),
and never block the event loop; ``create_completion`` and ``create_image`` are the synchronous
twins for scripts.
"""

from __future__ import annotations

import collections
import difflib
import hashlib
import logging
import os
import threading
from collections.abc import AsyncGenerator, Generator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Optional, Union

from . import _constants as C
from ._config import TimeoutTypes, redact_url
from ._error_body import KEY_HELP
from ._exceptions import APIError, ArgumentTypeError, ArgumentValueError, MissingAPIKeyError
from .client import DeepInfraClient
from .types import ImageResponse, Model

if TYPE_CHECKING:
    from .aio import AsyncDeepInfraClient

__all__ = ["DeepInfra", "Messages"]

Messages = list[dict[str, Any]]
"""OpenAI-style chat messages (the original's ``g4f.typing.Messages``)."""

logger = logging.getLogger(C.LOGGER_NAME)

_TEXT_TYPE = "text-generation"
_IMAGE_TYPE = "text-to-image"

# Arguments that configure the connection rather than the request body.
_CONNECTION_OPTIONS = ("proxy", "timeout", "api_base", "base_url", "headers")
_MAX_SHARED_CLIENTS = 8


# -- shared clients ----------------------------------------------------------------------------


class _Shared:
    """One cached sync client and, once an async method needed it, its async wrapper."""

    __slots__ = ("_async", "sync")

    def __init__(self, sync: DeepInfraClient) -> None:
        self.sync = sync
        self._async: Optional[AsyncDeepInfraClient] = None

    def aio(self) -> AsyncDeepInfraClient:
        """The async wrapper sharing this client's connections and model cache."""
        wrapper = self._async
        if wrapper is None:
            # Imported here so that scripts using only the sync methods never load anyio.
            from .aio import AsyncDeepInfraClient

            # Two threads racing here each build a wrapper; both share the same sync
            # client, so whichever is kept, nothing is lost or leaked.
            wrapper = self._async = AsyncDeepInfraClient(client=self.sync)
        return wrapper


_clients: collections.OrderedDict[bytes, _Shared] = collections.OrderedDict()
_clients_lock = threading.Lock()


def _reset_lock_in_child() -> None:
    # A fork while another thread held the lock would leave the child's copy locked forever.
    global _clients_lock
    _clients_lock = threading.Lock()


if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork
    os.register_at_fork(after_in_child=_reset_lock_in_child)


class _Connection:
    """The connection arguments of one call, before the environment fills the gaps."""

    __slots__ = ("api_key", "base_url", "headers", "proxy", "timeout")

    def __init__(
        self,
        api_key: Optional[str],
        base_url: Optional[str],
        proxy: Optional[str],
        timeout: TimeoutTypes,
        headers: tuple[tuple[str, str], ...],
    ) -> None:
        self.api_key = api_key
        self.base_url = base_url
        self.proxy = proxy
        self.timeout = timeout
        self.headers = headers

    def cache_key(self) -> bytes:
        """A digest of the arguments and the environment they will be resolved against.

        Hashed so that the key (and a proxy's password) never sits readable in the cache.
        """
        env = tuple(os.environ.get(name) for name in (*C.API_KEY_ENV_VARS, C.BASE_URL_ENV_VAR))
        material = repr((self.api_key, self.base_url, self.proxy, self.timeout, self.headers, env))
        return hashlib.blake2b(material.encode("utf-8", "surrogatepass"), digest_size=16).digest()

    def shared(self) -> _Shared:
        """The cached client for this configuration, built on first use."""
        key = self.cache_key()
        with _clients_lock:
            entry = _clients.get(key)
            if entry is not None:
                _clients.move_to_end(key)
                return entry
        # Built outside the lock (resolving may warn, validation may raise); if another
        # thread got there first, its client wins and this one, never used, is dropped.
        client = DeepInfraClient(
            self.api_key,
            base_url=self.base_url,
            timeout=self.timeout,
            proxy=self.proxy,
            default_headers=dict(self.headers) or None,
        )
        evicted: list[_Shared] = []
        with _clients_lock:
            entry = _clients.get(key)
            if entry is None:
                entry = _clients[key] = _Shared(client)
                while len(_clients) > _MAX_SHARED_CLIENTS:
                    evicted.append(_clients.popitem(last=False)[1])
            else:
                _clients.move_to_end(key)
        for old in evicted:
            # Its idle sockets close now; a stream still reading through it keeps its
            # connection to the end (closed then, not pooled); new calls get a new client.
            old.sync.close()
        return entry


def _base_url_from_api_base(api_base: object, suffix: str) -> str:
    """The API root of an ``api_base`` that must end with ``suffix``."""
    if not isinstance(api_base, str):
        raise ArgumentTypeError(f"api_base must be a str, not {type(api_base).__name__}")
    trimmed = api_base.strip().rstrip("/")
    if not trimmed.endswith(suffix):
        raise ArgumentValueError(
            f"api_base must end with {suffix}, such as {C.DEFAULT_BASE_URL + suffix!r}; got "
            f"{redact_url(api_base)!r} (or pass base_url= with the API root, such as "
            f"{C.DEFAULT_BASE_URL!r})"
        )
    return trimmed[: -len(suffix)]


def _pop_connection(
    api_key: Optional[str], options: dict[str, Any], *, api_base_suffix: str
) -> _Connection:
    """Take the connection options out of ``options`` (the rest is left for the request)."""
    if api_key is not None and not isinstance(api_key, str):
        raise ArgumentTypeError(f"api_key must be a str, not {type(api_key).__name__}")
    proxy = options.pop("proxy", None)
    if proxy is not None and not isinstance(proxy, str):
        raise ArgumentTypeError(
            f"proxy must be a URL string such as 'http://127.0.0.1:3128', "
            f"not {type(proxy).__name__}"
        )
    timeout = options.pop("timeout", None)
    base_url = options.pop("base_url", None)
    if base_url is not None and not isinstance(base_url, str):
        raise ArgumentTypeError(f"base_url must be a str, not {type(base_url).__name__}")
    api_base = options.pop("api_base", None)
    if api_base is not None:
        from_api_base = _base_url_from_api_base(api_base, api_base_suffix)
        if base_url is not None and base_url.rstrip("/") != from_api_base:
            raise ArgumentValueError(
                "api_base and base_url disagree: pass only one of them "
                f"(base_url is the API root, api_base is that root + {api_base_suffix})"
            )
        base_url = from_api_base
    headers = options.pop("headers", None)
    if headers is None:
        header_items: tuple[tuple[str, str], ...] = ()
    elif isinstance(headers, Mapping):
        header_items = tuple(sorted((str(k), str(v)) for k, v in headers.items()))
    else:
        raise ArgumentTypeError(
            f"headers must be a dict of str to str, not {type(headers).__name__}"
        )
    return _Connection(api_key, base_url, proxy, timeout, header_items)


# -- prompts and request bodies ----------------------------------------------------------------


def _text_of(content: object) -> str:
    """The text of a message's content: a str, or the text parts of an OpenAI parts list."""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        texts = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, Mapping) and part.get("type", "text") == "text":
                text = part.get("text")
                if isinstance(text, str):
                    texts.append(text)
        return "\n".join(t for t in texts if t)
    return ""


def _prompt_from_messages(messages: object) -> str:
    """The text of the last user message (what an image model draws)."""
    if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence):
        raise ArgumentTypeError(
            "messages must be a list of dicts such as [{'role': 'user', 'content': 'a cat'}], "
            f"not {type(messages).__name__}"
        )
    for message in reversed(messages):
        if isinstance(message, Mapping) and message.get("role") == "user":
            return _text_of(message.get("content"))
    raise ArgumentValueError(
        "an image model needs a prompt: pass prompt='...' or a message with role 'user'"
    )


# The options images.generate takes by name; other body fields go in its extra_body.
_IMAGE_OPTIONS = frozenset(
    {"negative_prompt", "width", "height", "num_images", "num_inference_steps"}
    | {"guidance_scale", "seed", "api", "cog"}
)


def _extra_fields(options: dict[str, Any]) -> dict[str, Any]:
    """Pop ``extra_body`` (the original's name since 2025-05) and ``extra_data`` (before):
    body fields to merge into the request, not fields named "extra_body"."""
    merged: dict[str, Any] = {}
    for name in ("extra_data", "extra_body"):
        value = options.pop(name, None)
        if value is None:
            continue
        if not isinstance(value, Mapping):
            raise ArgumentTypeError(
                f"{name} must be a dict of request body fields, not {type(value).__name__}"
            )
        merged.update(value)
    return merged


def _image_fields(prompt: str, kwargs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The prompt and the other body fields: ``{"prompt": prompt, **extra_body, **kwargs}``."""
    options = dict(kwargs)
    extra = _extra_fields(options)
    body: dict[str, Any] = {"prompt": prompt, **extra, **options}
    if "model" in body:
        raise ArgumentValueError("pass the image model as model=..., not as a body field")
    final_prompt = body.pop("prompt")
    named = {k: body.pop(k) for k in list(body) if k in _IMAGE_OPTIONS}
    if body:
        named["extra_body"] = body
    return final_prompt, named


def _image_from_chat(
    prompt: Optional[str], messages: object, options: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """The prompt and body fields when a chat call names an image model."""
    # temperature, max_tokens and stream are named parameters of the chat methods, so
    # they are already out of `options`: an image request never receives them.
    image_prompt = prompt if prompt is not None else _prompt_from_messages(messages)
    return _image_fields(image_prompt, options)


def _require_key(client: DeepInfraClient) -> None:
    """Refuse a chat before any request (the model list included) when no key is set."""
    if not client.has_api_key and not client.config.is_loopback:
        raise MissingAPIKeyError(f"DeepInfra needs an API key, and none is set: {KEY_HELP}")


def _without_list(err: APIError) -> list[str]:
    """The image models to use when the model list could not be fetched: none. The list
    only tells an image model from a text one, so a chat must not fail with it."""
    logger.warning("treating the model as a text model: %s", err)
    return []


def _split_models(listed: Sequence[Model]) -> tuple[list[str], list[str]]:
    """Text models and image models, split as the original provider did (deprecated
    models left out)."""
    text: list[str] = []
    images: list[str] = []
    for entry in listed:
        if entry.is_deprecated:
            continue  # not offered: the API may refuse it (the error names the replacement)
        if entry.type == _TEXT_TYPE:
            text.append(entry.model_name)
        elif entry.reported_type == _IMAGE_TYPE:
            images.append(entry.model_name)
    return text, images


def _chat_params(
    temperature: Optional[float], max_tokens: Optional[int], params: dict[str, Any]
) -> dict[str, Any]:
    # None is dropped by the chat resource: unset options are never sent. extra_body and
    # extra_data are merged into the body, as the original did.
    options = dict(params)
    extra = _extra_fields(options)
    if extra:
        options["extra_body"] = extra
    return {"temperature": temperature, "max_tokens": max_tokens, **options}


# -- the provider class ------------------------------------------------------------------------


class DeepInfra:
    """DeepInfra as a g4f-style provider: class methods only, over shared SDK clients.

    Arguments left ``None`` come from the environment at call time (``DEEPINFRA_API_KEY``,
    ``DEEPINFRA_TOKEN``, ``DEEPINFRA_API_TOKEN``; ``DEEPINFRA_BASE_URL``), then from the
    defaults. Failures raise the SDK's typed errors (:class:`~deepinfra_sdk.APIError` and its
    subclasses); bad arguments raise :class:`~deepinfra_sdk.ArgumentError` (also a ``ValueError``
    or ``TypeError``) before anything is sent.

    Connection options accepted as keyword arguments by every method: ``proxy`` (a proxy URL
    for http and https), ``timeout`` (seconds, a ``(connect, read)`` pair or a
    :class:`~deepinfra_sdk.Timeout`), ``base_url`` (the API root, such as
    ``https://api.deepinfra.com``), ``api_base`` (that root plus ``/v1/openai`` for chat and
    the model list, plus ``/v1/inference`` for images) and ``headers`` (extra headers).
    """

    label: ClassVar[str] = "DeepInfra"
    url: ClassVar[str] = "https://deepinfra.com"
    login_url: ClassVar[str] = "https://deepinfra.com/dash/api_keys"
    api_base: ClassVar[str] = "https://api.deepinfra.com/v1/openai"
    working: ClassVar[bool] = True
    needs_auth: ClassVar[bool] = True
    supports_stream: ClassVar[bool] = True
    supports_message_history: ClassVar[bool] = True
    supports_system_message: ClassVar[bool] = True
    active_by_default: ClassVar[bool] = True
    default_model: ClassVar[str] = C.DEFAULT_MODEL
    default_image_model: ClassVar[str] = C.DEFAULT_IMAGE_MODEL
    models: ClassVar[list[str]] = []
    """Text model names then image model names, filled by :meth:`get_models`."""
    image_models: ClassVar[list[str]] = []
    """Image model names (``reported_type == "text-to-image"``), filled with :attr:`models`."""
    vision_models: ClassVar[list[str]] = ["meta-llama/Llama-3.2-11B-Vision-Instruct"]
    """Text models that also read images in messages."""
    model_aliases: ClassVar[dict[str, str]] = {
        "llama-3.3-70b": "meta-llama/Llama-3.3-70B-Instruct-Turbo",
        "llama-3.1-70b": "meta-llama/Meta-Llama-3.1-70B-Instruct",
        "llama-3.1-8b": "meta-llama/Meta-Llama-3.1-8B-Instruct",
        "llama-3.2-11b": "meta-llama/Llama-3.2-11B-Vision-Instruct",
        "deepseek-r1": "deepseek-ai/DeepSeek-R1",
        "deepseek-v3": "deepseek-ai/DeepSeek-V3",
        "qwen-2.5-72b": "Qwen/Qwen2.5-72B-Instruct",
        "sd-3.5": "stabilityai/sd3.5",
        "sdxl-turbo": "stabilityai/sdxl-turbo",
        "flux-schnell": "black-forest-labs/FLUX-1-schnell",
        "flux-pro": "black-forest-labs/FLUX-1.1-pro",
    }
    """Short names g4f code uses, and the DeepInfra model each stands for."""

    # -- the model lists ---------------------------------------------------------------------

    @classmethod
    def _store_models(cls, listed: Sequence[Model]) -> list[str]:
        text, images = _split_models(listed)
        # Built aside and swapped in: a reader sees the old lists or the new, never a
        # half-filled one. image_models goes first so that once models is non-empty (the
        # "already loaded" test) image_models is current too.
        cls.image_models = images
        cls.models = text + images
        return cls.models

    @classmethod
    def get_models(
        cls, api_key: Optional[str] = None, *, refresh: bool = False, **kwargs: Any
    ) -> list[str]:
        """The featured model names: text models, then image models (cached on the class).

        The first call (or ``refresh=True``) fetches ``GET /models/featured``; later calls
        return :attr:`models` without a request. Many threads calling at once cause a single
        request. This blocks: async code gets the list filled by
        :meth:`create_async_generator`, or can run this in a worker thread.

        Args:
            api_key: chooses the shared client (the featured list itself needs no key).
            refresh: fetch again even if the list is cached.
            **kwargs: the connection options (``proxy``, ``timeout``, ``base_url``,
                ``api_base`` ending in ``/v1/openai``, ``headers``) are applied; any other
                keyword (g4f callers pass assorted extras) is accepted and ignored.
        """
        if cls.models and not refresh:
            return cls.models
        connection = _pop_connection(api_key, dict(kwargs), api_base_suffix=C.OPENAI_PREFIX)
        listed = connection.shared().sync.models.list(refresh=refresh)
        return cls._store_models(listed)

    @classmethod
    def get_image_models(cls, **kwargs: Any) -> list[str]:
        """The featured image model names, fetched with :meth:`get_models` if not yet loaded.

        Takes the same keyword arguments as :meth:`get_models`.
        """
        if not cls.image_models:
            cls.get_models(**kwargs)
        return cls.image_models

    @classmethod
    def get_model(cls, model: Optional[str], **kwargs: Any) -> str:
        """The model name ``model`` stands for, checked against the featured list.

        Empty or ``None`` gives :attr:`default_model`; a key of :attr:`model_aliases` gives
        its model; any other name must be in :meth:`get_models` (fetched, blocking, if not
        loaded yet) unless that list is empty. The calls of this class resolve aliases but
        do not refuse models outside the featured list (DeepInfra serves many more).

        Args:
            model: a model name or alias.
            **kwargs: passed to :meth:`get_models` (connection options).

        Raises:
            ArgumentValueError: (a ``ValueError``) for a name outside a non-empty featured
                list, naming the closest featured names.
        """
        if not model:
            return cls.default_model
        if model in cls.model_aliases:
            return cls.model_aliases[model]
        known = cls.get_models(**kwargs)
        if known and model not in known:
            close = difflib.get_close_matches(model, [*known, *cls.model_aliases], n=3)
            hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            raise ArgumentValueError(
                f"model {model!r} is not among DeepInfra's featured models.{hint} Pass a name "
                f"from DeepInfra.get_models() or an alias from DeepInfra.model_aliases."
            )
        return model

    @classmethod
    def _alias(cls, model: Optional[str], default: str) -> str:
        return cls.model_aliases.get(model or "", model or default)

    @classmethod
    async def _aimage_models(cls, aclient: AsyncDeepInfraClient) -> list[str]:
        # The async path fills the class lists too, from a worker thread: never blocking
        # the event loop with the request.
        _require_key(aclient.sync_client)
        if not cls.models:
            try:
                cls._store_models(await aclient.models.list())
            except APIError as err:
                return _without_list(err)
        return cls.image_models

    @classmethod
    def _image_models(cls, client: DeepInfraClient) -> list[str]:
        _require_key(client)
        if not cls.models:
            try:
                cls._store_models(client.models.list())
            except APIError as err:
                return _without_list(err)
        return cls.image_models

    # -- chat --------------------------------------------------------------------------------

    @classmethod
    async def create_async_generator(  # noqa: PLR0917 - the original provider's positional order
        cls,
        model: Optional[str],
        messages: Sequence[Mapping[str, Any]],
        stream: bool = True,
        prompt: Optional[str] = None,
        temperature: Optional[float] = None,
        max_tokens: Optional[int] = None,
        *,
        api_key: Optional[str] = None,
        **kwargs: Any,
    ) -> AsyncGenerator[Union[str, ImageResponse], None]:
        """Answer a chat: yield text as it arrives, or one image for an image model.

        For a text model this yields ``str`` pieces: each non-empty content delta when
        ``stream=True``, else the whole answer as one string (nothing if it is empty, e.g.
        an answer made only of tool calls). For a model listed in :attr:`image_models` it
        yields one :class:`~deepinfra_sdk.ImageResponse` drawn from ``prompt``, or else from
        the text of the last user message; it is awaitable (awaiting gives itself), so the
        original's callers, who ``await`` that chunk, keep working.

        The positional order is the original's (2025): ``model, messages, stream, prompt,
        temperature, max_tokens``; ``api_key`` is keyword-only, as it was in the original's
        ``**kwargs``.

        Args:
            model: the model name or a key of :attr:`model_aliases`; empty or ``None`` means
                :attr:`default_model`.
            messages: OpenAI-style messages, ``[{"role": "user", "content": "Hi"}]``.
            stream: stream the answer (``True``) or fetch it whole.
            prompt: the prompt for an image model (ignored for text models).
            temperature: the sampling temperature; sent only when given.
            max_tokens: the longest answer, in tokens; sent only when given.
            api_key: the key; ``None`` reads the environment.
            **kwargs: connection options (``proxy``, ``timeout``, ``base_url``,
                ``api_base`` ending in ``/v1/openai``, ``headers``); ``extra_body`` (or the
                older ``extra_data``), whose fields are merged into the request body;
                everything else goes to the chat API as it is (``top_p``, ``stop``,
                ``seed``, ``tools``, ...) or, for an image model, into the image body.

        Closing the generator early (``break`` then ``aclose()``, cancellation) closes the
        stream and releases its connection.
        """
        model = cls._alias(model, cls.default_model)
        options = dict(kwargs)
        connection = _pop_connection(api_key, options, api_base_suffix=C.OPENAI_PREFIX)
        aclient = connection.shared().aio()
        if model in await cls._aimage_models(aclient):
            fields_prompt, fields = _image_from_chat(prompt, messages, options)
            yield await aclient.images.generate(fields_prompt, model=model, **fields)
            return
        params = _chat_params(temperature, max_tokens, options)
        if not stream:
            completion = await aclient.chat.completions.create(
                model=model, messages=messages, stream=False, **params
            )
            if completion.text:
                yield completion.text
            return
        chat_stream = await aclient.chat.completions.create(
            model=model, messages=messages, stream=True, **params
        )
        # Leaving the generator early (aclose, cancellation) exits this block, which
        # closes the stream: no thread or connection outlives the consumer's interest.
        async with chat_stream:
            async for chunk in chat_stream:
                for choice in chunk.choices:
                    if choice.index == 0 and choice.delta.content:
                        yield choice.delta.content

    @classmethod
    def create_completion(  # noqa: PLR0917 - the original provider's positional order
        cls,
        model: Optional[str],
        messages: Sequence[Mapping[str, Any]],
        stream: bool = True,
        prompt: Optional[str] = None,
        temperature: Optional[float] = None,
        max_tokens: Optional[int] = None,
        *,
        api_key: Optional[str] = None,
        **kwargs: Any,
    ) -> Generator[Union[str, ImageResponse], None, None]:
        """The synchronous twin of :meth:`create_async_generator`, for scripts.

        Same arguments, same results (``str`` pieces, or one ``ImageResponse`` for an image
        model), as a plain generator; closing it early closes the stream.
        """
        model = cls._alias(model, cls.default_model)
        options = dict(kwargs)
        connection = _pop_connection(api_key, options, api_base_suffix=C.OPENAI_PREFIX)
        client = connection.shared().sync
        if model in cls._image_models(client):
            fields_prompt, fields = _image_from_chat(prompt, messages, options)
            yield client.images.generate(fields_prompt, model=model, **fields)
            return
        params = _chat_params(temperature, max_tokens, options)
        if not stream:
            completion = client.chat.completions.create(
                model=model, messages=messages, stream=False, **params
            )
            if completion.text:
                yield completion.text
            return
        with client.chat.completions.create(
            model=model, messages=messages, stream=True, **params
        ) as chat_stream:
            yield from chat_stream.iter_text()

    # -- images ------------------------------------------------------------------------------

    @classmethod
    def _image_request(
        cls,
        prompt: str,
        *,
        model: Optional[str],
        api_key: Optional[str],
        api_base: Optional[str],
        proxy: Optional[str],
        timeout: TimeoutTypes,
        extra_body: Optional[Mapping[str, Any]],
        kwargs: Mapping[str, Any],
    ) -> tuple[_Shared, str, str, dict[str, Any]]:
        """The shared client, model, prompt and fields of an image request."""
        options = dict(kwargs)
        options.update(api_base=api_base, proxy=proxy, timeout=timeout)
        if extra_body is not None:
            options["extra_body"] = extra_body
        connection = _pop_connection(api_key, options, api_base_suffix=C.INFERENCE_PREFIX)
        final_prompt, fields = _image_fields(prompt, options)
        model = cls._alias(model, cls.default_image_model)
        return connection.shared(), model, final_prompt, fields

    @classmethod
    async def create_async_image(  # noqa: PLR0917 - the original provider's positional order
        cls,
        prompt: str,
        model: Optional[str] = None,
        api_key: Optional[str] = None,
        api_base: Optional[str] = None,
        proxy: Optional[str] = None,
        timeout: TimeoutTypes = 180,
        extra_body: Optional[Mapping[str, Any]] = None,
        **kwargs: Any,
    ) -> ImageResponse:
        """Generate an image with the native inference route (``POST /v1/inference/{model}``).

        The body is ``{"prompt": prompt, **extra_body, **kwargs}`` (``width``, ``height``,
        ``num_images``, ``seed``, ``negative_prompt``, model-specific fields...); Cog-style
        models get their ``{"input": ...}`` wrapping automatically. The positional order is
        the original's (``extra_body`` took ``extra_data``'s place in 2025-05; ``extra_data=``
        is still accepted by name, and merged the same way).

        Args:
            prompt: what to draw.
            model: an image model or a key of :attr:`model_aliases`; empty or ``None`` means
                :attr:`default_image_model`.
            api_key: the key; ``None`` reads the environment.
            api_base: the inference base, the API root plus ``/v1/inference`` (by default
                from ``DEEPINFRA_BASE_URL`` or ``https://api.deepinfra.com``).
            proxy: a proxy URL for http and https.
            timeout: seconds for connecting and for the answer (or a
                :class:`~deepinfra_sdk.Timeout`).
            extra_body: more body fields, merged into the body.
            **kwargs: body fields (``extra_data``: more of them, merged); ``base_url`` and
                ``headers`` configure the connection.

        Returns:
            An :class:`~deepinfra_sdk.ImageResponse`: ``.images`` holds ``data:`` URIs or
            URLs, ``.prompt`` (alias ``.alt``) the prompt; ``print()`` shows it as markdown.
        """
        shared, model, final_prompt, fields = cls._image_request(
            prompt,
            model=model,
            api_key=api_key,
            api_base=api_base,
            proxy=proxy,
            timeout=timeout,
            extra_body=extra_body,
            kwargs=kwargs,
        )
        return await shared.aio().images.generate(final_prompt, model=model, **fields)

    @classmethod
    async def create_async_image_generator(  # noqa: PLR0917 - create_async_image's order
        cls,
        prompt: str,
        model: Optional[str] = None,
        api_key: Optional[str] = None,
        api_base: Optional[str] = None,
        proxy: Optional[str] = None,
        timeout: TimeoutTypes = 180,
        extra_body: Optional[Mapping[str, Any]] = None,
        **kwargs: Any,
    ) -> AsyncGenerator[ImageResponse, None]:
        """:meth:`create_async_image` as an async generator yielding its one
        :class:`~deepinfra_sdk.ImageResponse` (same arguments), for code that iterates."""
        yield await cls.create_async_image(
            prompt, model, api_key, api_base, proxy, timeout, extra_body, **kwargs
        )

    @classmethod
    def create_image(  # noqa: PLR0917 - the original provider's positional order
        cls,
        prompt: str,
        model: Optional[str] = None,
        api_key: Optional[str] = None,
        api_base: Optional[str] = None,
        proxy: Optional[str] = None,
        timeout: TimeoutTypes = 180,
        extra_body: Optional[Mapping[str, Any]] = None,
        **kwargs: Any,
    ) -> ImageResponse:
        """The synchronous twin of :meth:`create_async_image` (same arguments and result)."""
        shared, model, final_prompt, fields = cls._image_request(
            prompt,
            model=model,
            api_key=api_key,
            api_base=api_base,
            proxy=proxy,
            timeout=timeout,
            extra_body=extra_body,
            kwargs=kwargs,
        )
        return shared.sync.images.generate(final_prompt, model=model, **fields)

    # -- shared clients ----------------------------------------------------------------------

    @classmethod
    def close_clients(cls) -> None:
        """Close every shared client and forget them (later calls build new ones).

        For tests and for a clean shutdown; a stream still running on a closed client fails
        with a typed error.
        """
        with _clients_lock:
            entries = list(_clients.values())
            _clients.clear()
        for entry in entries:
            entry.sync.close()
