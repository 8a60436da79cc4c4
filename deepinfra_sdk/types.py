"""Typed results: dataclasses with two ways in and one way out.

Decoding takes one of two routes:

* ``Cls.from_wire(d)``: hand-written, direct constructor calls, for dicts straight off the wire
  (``json.loads`` output). This is the hot path (a stream decodes hundreds of thousands of
  chunks a second), so it is tolerant but does no generic introspection: unknown keys are
  ignored, missing optional keys become ``None`` (or the field's default), and lists it does not
  need to transform are shared with ``d`` rather than copied. A payload too broken to decode
  raises :class:`~deepinfra_sdk.APIResponseValidationError`.
* ``Cls.from_dict(d)`` / ``Cls.from_json(s)`` / ``Cls.schema()``: dataclasses-json, for
  canonical dicts (what ``to_dict`` produces): 150 to 300 times slower on a stream chunk
  (``bench/bench_types.py``). Unknown keys are excluded and missing optional fields are
  inferred as ``None``.

Both routes give equal objects for the same canonical dict. ``from_wire`` additionally maps the
wire's spellings onto the canonical fields:

==========================================  =============================================
on the wire                                 field
==========================================  =============================================
delta/message ``reasoning``                 ``reasoning_content`` (if that key is absent)
embedding as a base64 string                ``Embedding.embedding`` as floats (LE float32)
``output`` (list or string), ``image_url``  ``ImageResponse.images``
``data[].b64_json`` / ``data[].url``        ``ImageResponse.images`` (``data:`` URI / URL)
``data[].revised_prompt``                   ``ImageResponse.revised_prompts``
==========================================  =============================================

Serialising (``to_dict``, ``to_json``) always goes through dataclasses-json. It is imported on
first use, not when this module is, because it and marshmallow cost tens of milliseconds to
import and most programs only ever decode.
"""

import os
import sys
from dataclasses import dataclass, field
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    ClassVar,
    Dict,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Union,
    cast,
)

from ._exceptions import APIResponseValidationError, ArgumentValueError
from ._files import atomic_write
from ._images import (
    base64_to_data_uri,
    decode_base64,
    decode_data_uri,
    extension_for,
    is_url,
    sniff_base64,
    sniff_data_uri,
    sniff_media_type,
)

if TYPE_CHECKING:
    import pathlib

    from typing_extensions import Self

__all__ = [
    "ChatChoice",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatMessage",
    "ChoiceDelta",
    "ChunkChoice",
    "Embedding",
    "EmbeddingResponse",
    "FunctionCall",
    "FunctionCallDelta",
    "ImageResponse",
    "InferenceStatus",
    "Model",
    "Pricing",
    "ToolCall",
    "ToolCallDelta",
    "Usage",
]

# What a malformed wire dict raises inside a decoder: a missing required key, a value of the
# wrong shape (``None.get``, iterating an int), or a failed conversion.
_DECODE_ERRORS = (KeyError, TypeError, AttributeError, ValueError, IndexError)

_dcj_mixin: Any = None


def _dataclasses_json() -> Any:
    """dataclasses-json's ``DataClassJsonMixin``, imported and configured on first use."""
    global _dcj_mixin
    if _dcj_mixin is None:
        import dataclasses_json

        # Concurrent first calls just repeat these idempotent steps.
        _JsonMixin.dataclass_json_config = dataclasses_json.config(
            undefined=dataclasses_json.Undefined.EXCLUDE
        )["dataclasses_json"]
        # schema() only nests the schemas of classes it believes are its own.
        dataclasses_json.DataClassJsonMixin.register(_JsonMixin)
        _dcj_mixin = dataclasses_json.DataClassJsonMixin
    return _dcj_mixin


def _malformed(cls: type, d: object, exc: BaseException) -> APIResponseValidationError:
    what = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc)
    return APIResponseValidationError(f"malformed {cls.__name__} in response: {what}", body=d)


class _JsonMixin:
    """Serialisation through dataclasses-json, which is imported only when first needed.

    Unknown keys are excluded on input; missing optional fields are inferred as ``None``.
    """

    # Set lazily (it holds a dataclasses-json enum); read by dataclasses-json itself.
    dataclass_json_config: ClassVar[Optional[Dict[str, Any]]] = None

    def to_dict(self, encode_json: bool = False) -> Dict[str, Any]:
        """This object as a dict of JSON-compatible values, keyed by field name."""
        return cast(Dict[str, Any], _dataclasses_json().to_dict(self, encode_json))

    def to_json(self, **kw: Any) -> str:
        """This object as a JSON string; keywords go to ``json.dumps``."""
        return cast(str, _dataclasses_json().to_json(self, **kw))

    @classmethod
    def from_dict(cls, kvs: Mapping[str, Any], *, infer_missing: bool = True) -> "Self":
        """Decode a canonical dict with dataclasses-json (slow; prefer ``from_wire``)."""
        func = _dataclasses_json().from_dict.__func__
        return cast("Self", func(cls, kvs, infer_missing=infer_missing))

    @classmethod
    def from_json(
        cls, s: Union[str, bytes, bytearray], *, infer_missing: bool = True, **kw: Any
    ) -> "Self":
        """Decode a canonical JSON document; keywords go to ``json.loads``."""
        func = _dataclasses_json().from_json.__func__
        return cast("Self", func(cls, s, infer_missing=infer_missing, **kw))

    @classmethod
    def schema(cls, **kw: Any) -> Any:
        """A marshmallow schema for this class (keywords as for dataclasses-json's ``schema``)."""
        import warnings

        build = _dataclasses_json().schema.__func__
        try:
            from marshmallow.warnings import RemovedInMarshmallow4Warning
        except ImportError:  # a marshmallow without that deprecation
            return build(cls, **kw)
        # dataclasses-json 0.6 still passes marshmallow 3.x's deprecated `default=`/`missing=`:
        # its business, not the caller's (whose tests may run with warnings as errors).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RemovedInMarshmallow4Warning)
            return build(cls, **kw)


# --------------------------------------------------------------------------- models


@dataclass
class Pricing(_JsonMixin):
    """A model's price. Amounts are US cents per unit; which ones are set depends on ``type``.

    ``type`` is ``tokens``, ``time``, ``uptime``, ``image_units``, ``input_length``, ... ;
    pricing keys not listed here are ignored.
    """

    type: str = ""
    cents_per_input_token: Optional[float] = None
    cents_per_output_token: Optional[float] = None
    cents_per_sec: Optional[float] = None
    cents_per_image_unit: Optional[float] = None
    default_width: Optional[int] = None
    default_height: Optional[int] = None

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> "Self":
        """Decode a wire ``pricing`` object."""
        try:
            get = d.get
            return cls(
                get("type") or "",
                get("cents_per_input_token"),
                get("cents_per_output_token"),
                get("cents_per_sec"),
                get("cents_per_image_unit"),
                get("default_width"),
                get("default_height"),
            )
        except _DECODE_ERRORS as exc:
            raise _malformed(cls, d, exc) from exc


@dataclass
class Model(_JsonMixin):
    """One entry of ``/models/featured`` or ``/models/list``.

    ``deprecated`` is the unix time of deprecation (``None`` if current); ``replaced_by`` names
    the successor, if any. ``max_tokens`` is the context size where known.
    """

    model_name: str
    type: str = ""
    reported_type: Optional[str] = None
    pricing: Optional[Pricing] = None
    description: Optional[str] = None
    cover_img_url: Optional[str] = None
    tags: List[str] = field(default_factory=list)
    max_tokens: Optional[int] = None
    replaced_by: Optional[str] = None
    deprecated: Optional[int] = None
    quantization: Optional[str] = None
    private: Optional[int] = None

    @property
    def name(self) -> str:
        """The model's name, ``owner/name`` (same as ``model_name``)."""
        return self.model_name

    @property
    def is_deprecated(self) -> bool:
        """Whether the model has a deprecation time."""
        return bool(self.deprecated)

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> "Self":
        """Decode a model list entry; only ``model_name`` is required."""
        try:
            get = d.get
            pricing = get("pricing")
            return cls(
                d["model_name"],
                get("type") or "",
                get("reported_type"),
                None if pricing is None else Pricing.from_wire(pricing),
                get("description"),
                get("cover_img_url"),
                list(get("tags") or ()),
                get("max_tokens"),
                get("replaced_by"),
                get("deprecated"),
                get("quantization"),
                get("private"),
            )
        except _DECODE_ERRORS as exc:
            raise _malformed(cls, d, exc) from exc


# --------------------------------------------------------------------------- chat


@dataclass
class FunctionCall(_JsonMixin):
    """A complete function call: its name and its JSON-encoded arguments."""

    name: str
    arguments: str = ""

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> "Self":
        """Decode a wire ``function`` object of a tool call."""
        try:
            return cls(d["name"], d.get("arguments") or "")
        except _DECODE_ERRORS as exc:
            raise _malformed(cls, d, exc) from exc


@dataclass
class ToolCall(_JsonMixin):
    """A complete tool call in an assistant message.

    Field order differs from the wire's (``type`` last) because it has a default.
    """

    id: str
    function: FunctionCall
    type: str = "function"

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> "Self":
        """Decode a wire tool call (a missing ``id`` becomes ``""``)."""
        try:
            return cls(
                d.get("id") or "",
                FunctionCall.from_wire(d["function"]),
                d.get("type") or "function",
            )
        except _DECODE_ERRORS as exc:
            raise _malformed(cls, d, exc) from exc


@dataclass
class FunctionCallDelta(_JsonMixin):
    """A fragment of a streamed function call: concatenate ``arguments`` across chunks."""

    name: Optional[str] = None
    arguments: Optional[str] = None

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> "Self":
        """Decode a wire ``function`` fragment."""
        try:
            return cls(d.get("name"), d.get("arguments"))
        except _DECODE_ERRORS as exc:
            raise _malformed(cls, d, exc) from exc


@dataclass
class ToolCallDelta(_JsonMixin):
    """A fragment of a streamed tool call; fragments with the same ``index`` belong together."""

    index: int = 0
    id: Optional[str] = None
    type: Optional[str] = None
    function: Optional[FunctionCallDelta] = None

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> "Self":
        """Decode a wire tool-call fragment (a missing ``index`` means 0)."""
        try:
            get = d.get
            fn = get("function")
            return cls(
                get("index", 0),
                get("id"),
                get("type"),
                None if fn is None else FunctionCallDelta(fn.get("name"), fn.get("arguments")),
            )
        except _DECODE_ERRORS as exc:
            raise _malformed(cls, d, exc) from exc


def _tool_calls(raw: Optional[Sequence[Mapping[str, Any]]]) -> Optional[List[ToolCall]]:
    return None if raw is None else [ToolCall.from_wire(t) for t in raw]


@dataclass
class ChatMessage(_JsonMixin):
    """A chat message, as sent in a request or returned in a completion.

    ``reasoning_content`` holds a reasoning model's thinking (wire key ``reasoning_content`` or
    ``reasoning``).
    """

    role: str
    content: Optional[str] = None
    reasoning_content: Optional[str] = None
    tool_calls: Optional[List[ToolCall]] = None
    name: Optional[str] = None
    tool_call_id: Optional[str] = None

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> "Self":
        """Decode a wire message (a missing ``role`` means ``assistant``)."""
        try:
            get = d.get
            reasoning = get("reasoning_content")
            if reasoning is None:
                reasoning = get("reasoning")
            return cls(
                get("role") or "assistant",
                get("content"),
                reasoning,
                _tool_calls(get("tool_calls")),
                get("name"),
                get("tool_call_id"),
            )
        except _DECODE_ERRORS as exc:
            raise _malformed(cls, d, exc) from exc


@dataclass
class Usage(_JsonMixin):
    """Token counts, and DeepInfra's ``estimated_cost`` where given (USD, unconfirmed)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    estimated_cost: Optional[float] = None

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> "Self":
        """Decode a wire ``usage`` object (missing or null counts mean 0)."""
        try:
            get = d.get
            return cls(
                get("prompt_tokens") or 0,
                get("completion_tokens") or 0,
                get("total_tokens") or 0,
                get("estimated_cost"),
            )
        except _DECODE_ERRORS as exc:
            raise _malformed(cls, d, exc) from exc


@dataclass
class ChatChoice(_JsonMixin):
    """One alternative of a (non-streamed) chat completion."""

    index: int
    message: ChatMessage
    finish_reason: Optional[str] = None
    logprobs: Optional[Any] = None

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> "Self":
        """Decode a wire choice; ``message`` is required, a missing ``index`` means 0."""
        try:
            get = d.get
            return cls(
                get("index", 0),
                ChatMessage.from_wire(d["message"]),
                get("finish_reason"),
                get("logprobs"),
            )
        except _DECODE_ERRORS as exc:
            raise _malformed(cls, d, exc) from exc


@dataclass
class ChatCompletion(_JsonMixin):
    """The answer to a non-streamed chat request.

    Missing ``id``/``object``/``model`` become ``""`` and a missing ``created`` 0, as in chunks.
    """

    id: str = ""
    object: str = ""
    created: int = 0
    model: str = ""
    choices: List[ChatChoice] = field(default_factory=list)
    usage: Optional[Usage] = None
    system_fingerprint: Optional[str] = None

    @property
    def text(self) -> str:
        """The first choice's content, or ``""`` if there is none."""
        if not self.choices:
            return ""
        return self.choices[0].message.content or ""

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> "Self":
        """Decode a wire chat completion."""
        try:
            get = d.get
            usage = get("usage")
            return cls(
                get("id") or "",
                get("object") or "",
                get("created") or 0,
                get("model") or "",
                [ChatChoice.from_wire(c) for c in get("choices") or ()],
                None if usage is None else Usage.from_wire(usage),
                get("system_fingerprint"),
            )
        except _DECODE_ERRORS as exc:
            raise _malformed(cls, d, exc) from exc


@dataclass
class ChoiceDelta(_JsonMixin):
    """What one streamed chunk adds to a choice (wire ``reasoning`` maps to
    ``reasoning_content``)."""

    role: Optional[str] = None
    content: Optional[str] = None
    reasoning_content: Optional[str] = None
    tool_calls: Optional[List[ToolCallDelta]] = None

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> "Self":
        """Decode a wire ``delta`` object."""
        try:
            get = d.get
            reasoning = get("reasoning_content")
            if reasoning is None:
                reasoning = get("reasoning")
            tool_calls = get("tool_calls")
            return cls(
                get("role"),
                get("content"),
                reasoning,
                None if tool_calls is None else [ToolCallDelta.from_wire(t) for t in tool_calls],
            )
        except _DECODE_ERRORS as exc:
            raise _malformed(cls, d, exc) from exc


@dataclass
class ChunkChoice(_JsonMixin):
    """One choice of a streamed chunk (a missing ``delta`` is an empty one)."""

    index: int = 0
    delta: ChoiceDelta = field(default_factory=ChoiceDelta)
    finish_reason: Optional[str] = None
    logprobs: Optional[Any] = None

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> "Self":
        """Decode a wire chunk choice."""
        try:
            get = d.get
            delta = get("delta")
            return cls(
                get("index", 0),
                ChoiceDelta() if delta is None else ChoiceDelta.from_wire(delta),
                get("finish_reason"),
                get("logprobs"),
            )
        except _DECODE_ERRORS as exc:
            raise _malformed(cls, d, exc) from exc


@dataclass
class ChatCompletionChunk(_JsonMixin):
    """One event of a chat stream.

    At DeepInfra ``usage`` rides on the chunk that carries ``finish_reason``. Missing
    ``id``/``object``/``model`` become ``""``, a missing ``created`` 0 and missing ``choices``
    an empty list.
    """

    id: str = ""
    object: str = ""
    created: int = 0
    model: str = ""
    choices: List[ChunkChoice] = field(default_factory=list)
    usage: Optional[Usage] = None

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> "Self":
        """Decode a wire chunk: the streaming hot path.

        Choices and deltas are built inline (not through their ``from_wire``), with positional
        constructor calls, which measured fastest.
        """
        try:
            get = d.get
            raw_choices = get("choices")
            choices = []
            if raw_choices:
                for c in raw_choices:
                    cget = c.get
                    delta = cget("delta")
                    if delta is None:
                        decoded = _ChoiceDelta()
                    else:
                        dget = delta.get
                        reasoning = dget("reasoning_content")
                        if reasoning is None:
                            reasoning = dget("reasoning")
                        tool_calls = dget("tool_calls")
                        decoded = _ChoiceDelta(
                            dget("role"),
                            dget("content"),
                            reasoning,
                            None
                            if tool_calls is None
                            else [_tool_call_delta(t) for t in tool_calls],
                        )
                    choices.append(
                        _ChunkChoice(
                            cget("index", 0), decoded, cget("finish_reason"), cget("logprobs")
                        )
                    )
            usage = get("usage")
            return cls(
                get("id") or "",
                get("object") or "",
                get("created") or 0,
                get("model") or "",
                choices,
                None if usage is None else _usage(usage),
            )
        except _DECODE_ERRORS as exc:
            raise _malformed(cls, d, exc) from exc


# Module-level aliases read by the chunk decoder: plain globals, no class attribute lookups.
_ChoiceDelta = ChoiceDelta
_ChunkChoice = ChunkChoice
_tool_call_delta: Callable[[Mapping[str, Any]], ToolCallDelta] = ToolCallDelta.from_wire
_usage: Callable[[Mapping[str, Any]], Usage] = Usage.from_wire


# --------------------------------------------------------------------------- embeddings


def _floats_from_base64(payload: str) -> List[float]:
    """Decode an ``encoding_format="base64"`` embedding: little-endian float32."""
    from array import array

    raw = decode_base64(payload)
    if len(raw) % 4:
        raise APIResponseValidationError(
            f"base64 embedding holds {len(raw)} bytes, not a whole number of float32 values"
        )
    values = array("f")
    values.frombytes(raw)
    if sys.byteorder == "big":
        values.byteswap()
    return values.tolist()


@dataclass
class Embedding(_JsonMixin):
    """One input's embedding vector."""

    index: int
    embedding: List[float]
    object: str = "embedding"

    @classmethod
    def from_wire(cls, d: Mapping[str, Any], *, default_index: int = 0) -> "Self":
        """Decode a wire embedding; a base64 string vector is decoded to floats.

        ``default_index`` is used when the entry has no ``index``.
        """
        try:
            vector = d["embedding"]
            if isinstance(vector, str):
                vector = _floats_from_base64(vector)
            return cls(d.get("index", default_index), vector, d.get("object") or "embedding")
        except _DECODE_ERRORS as exc:
            raise _malformed(cls, d, exc) from exc


@dataclass
class EmbeddingResponse(_JsonMixin):
    """The answer to an embeddings request."""

    data: List[Embedding]
    model: str = ""
    usage: Optional[Usage] = None
    object: str = "list"

    @property
    def embeddings(self) -> List[List[float]]:
        """The vectors in input order (sorted by ``index``)."""
        return [e.embedding for e in sorted(self.data, key=lambda e: e.index)]

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> "Self":
        """Decode a wire embeddings response (entries without ``index`` take their position)."""
        try:
            get = d.get
            usage = get("usage")
            return cls(
                [Embedding.from_wire(e, default_index=i) for i, e in enumerate(d["data"])],
                get("model") or "",
                None if usage is None else Usage.from_wire(usage),
                get("object") or "list",
            )
        except _DECODE_ERRORS as exc:
            raise _malformed(cls, d, exc) from exc


# --------------------------------------------------------------------------- images


@dataclass
class InferenceStatus(_JsonMixin):
    """Native inference bookkeeping: ``status`` is ``unknown|queued|running|succeeded|failed``
    and ``cost`` is the charge."""

    status: str = "unknown"
    runtime_ms: Optional[int] = None
    cost: Optional[float] = None
    tokens_generated: Optional[int] = None
    tokens_input: Optional[int] = None

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> "Self":
        """Decode a wire ``inference_status`` object."""
        try:
            get = d.get
            return cls(
                get("status") or "unknown",
                get("runtime_ms"),
                get("cost"),
                get("tokens_generated"),
                get("tokens_input"),
            )
        except _DECODE_ERRORS as exc:
            raise _malformed(cls, d, exc) from exc


def _as_image(value: Any) -> str:
    """A wire image as a ``data:`` URI or URL; bare base64 is wrapped, its type sniffed."""
    if not isinstance(value, str):
        raise APIResponseValidationError(
            f"an image in the response is a {type(value).__name__}, not a string"
        )
    if value[:5].lower() == "data:" or is_url(value):
        return value
    return base64_to_data_uri(value)


def _wire_images(d: Mapping[str, Any]) -> List[str]:
    """Images in wire.md's order of precedence: images, output, image_url, data[]."""
    images = d.get("images")
    if images:
        return [_as_image(i) for i in images]
    output = d.get("output")
    if output:
        if isinstance(output, str):
            return [_as_image(output)]
        return [_as_image(i) for i in output if i is not None]
    image_url = d.get("image_url")
    if image_url:
        return [_as_image(image_url)]
    found = []
    for entry in d.get("data") or ():
        b64 = entry.get("b64_json")
        if b64:
            # Some proxies send a whole data: URI where bare base64 belongs: keep it as is.
            found.append(_as_image(b64))
        elif entry.get("url"):
            found.append(_as_image(entry["url"]))
    return found


def _describe_image(image: str) -> str:
    """A short stand-in for an image in a repr: never the payload itself."""
    if is_url(image):
        return repr(image if len(image) <= 80 else image[:77] + "...")
    comma = image.find(",", 0, 512)
    header = image[:comma] if comma >= 0 else f"base64 {image[:12]}..."
    size = (len(image) - comma - 1) * 3 // 4 - image[-2:].count("=")
    if size >= 1 << 20:
        human = f"{size / (1 << 20):.1f} MB"
    elif size >= 1 << 10:
        human = f"{size / (1 << 10):.1f} KB"
    else:
        human = f"{size} B"
    return f"<{header}, ~{human}>"


@dataclass(repr=False)
class ImageResponse(_JsonMixin):
    """Generated images, each a ``data:`` URI or an http(s) URL.

    Iterating yields the image strings; ``bytes(resp)`` is the first image's bytes. In Jupyter
    the object displays as the pictures themselves. ``alt`` is the prompt (kept for code written
    against the old provider's ``ImageResponse``).
    """

    images: List[str]
    prompt: Optional[str] = None
    seed: Optional[int] = None
    nsfw_content_detected: Optional[List[bool]] = None
    request_id: Optional[str] = None
    inference_status: Optional[InferenceStatus] = None
    model: Optional[str] = None
    created: Optional[int] = None
    revised_prompts: Optional[List[Optional[str]]] = None

    @classmethod
    def from_wire(
        cls, d: Mapping[str, Any], *, prompt: Optional[str] = None, model: Optional[str] = None
    ) -> "Self":
        """Decode a native-inference or OpenAI-style image response.

        Images are read from ``images``, else ``output`` (list or string), else ``image_url``,
        else ``data[].b64_json`` (wrapped as a ``data:`` URI whose type is sniffed from the
        bytes) / ``data[].url``. URLs are kept as they are. ``prompt`` and ``model`` (from the
        request) fill the fields the wire does not carry.
        """
        try:
            get = d.get
            revised = get("revised_prompts")
            data = get("data")
            if revised is None and data:
                revised = [entry.get("revised_prompt") for entry in data]
                if not any(r is not None for r in revised):
                    revised = None
            status = get("inference_status")
            nsfw = get("nsfw_content_detected")
            return cls(
                _wire_images(d),
                prompt if prompt is not None else get("prompt"),
                get("seed"),
                None if nsfw is None else list(nsfw),
                get("request_id"),
                None if status is None else InferenceStatus.from_wire(status),
                model if model is not None else get("model"),
                get("created"),
                revised,
            )
        except _DECODE_ERRORS as exc:
            raise _malformed(cls, d, exc) from exc

    # -- compatibility and container protocol

    @property
    def alt(self) -> Optional[str]:
        """The prompt (the old provider's name for it)."""
        return self.prompt

    def __len__(self) -> int:
        return len(self.images)

    def __iter__(self) -> Iterator[str]:
        return iter(self.images)

    def __bytes__(self) -> bytes:
        return self.image_bytes(0)

    # -- bytes and types

    def _image(self, index: int) -> str:
        count = len(self.images)
        if not -count <= index < count:
            hint = f"use 0..{count - 1}" if count else "it holds none"
            raise IndexError(
                f"image index {index} out of range: this response holds {count} image(s) ({hint})"
            )
        return self.images[index]

    def _inline(self, index: int) -> str:
        image = self._image(index)
        if is_url(image):
            raise ArgumentValueError(
                f"image {index} is a URL ({image[:80]}), not inline data: download it "
                "(for example requests.get(url).content) to get its bytes"
            )
        return image

    def image_bytes(self, index: int = 0) -> bytes:
        """The decoded bytes of image ``index``.

        Raises IndexError for a bad index, ValueError if the image is a URL (download it
        instead) and :class:`~deepinfra_sdk.APIResponseValidationError` if its base64 is
        invalid or truncated.
        """
        image = self._inline(index)
        if image[:5].lower() == "data:":
            return decode_data_uri(image)
        return decode_base64(image)

    def media_type(self, index: int = 0) -> str:
        """The media type of image ``index`` judged by its bytes, whatever the URI declares.

        Only the first bytes are decoded. Raises like :meth:`image_bytes`.
        """
        image = self._inline(index)
        if image[:5].lower() == "data:":
            return sniff_data_uri(image)
        return sniff_base64(image)

    def save(
        self, path: Union[str, "os.PathLike[str]"], index: Optional[int] = None
    ) -> List["pathlib.Path"]:
        """Write image(s) to disk and return the paths written.

        With ``index`` (or a single image) the image goes to ``path``; otherwise every image is
        written as ``<stem>-<i><suffix>``. A ``path`` without a suffix gets one from the sniffed
        type (``.png``, ``.jpg``, ``.webp``, ``.gif``; ``.bin`` if unknown); an existing
        directory receives ``image<suffix>``. Each file is written to a temporary name and
        renamed into place, so no reader sees a partial file.
        """
        import pathlib

        if index is None:
            indices = list(range(len(self.images)))
            if not indices:
                raise ArgumentValueError("this response holds no images: nothing to save")
        else:
            self._image(index)
            indices = [index]
        # Refuse before writing anything, rather than leave a partial set behind.
        for i in indices:
            self._inline(i)

        target = pathlib.Path(path)
        if target.is_dir():
            target = target / "image"
        written = []
        for i in indices:
            data = self.image_bytes(i)
            suffix = target.suffix or extension_for(sniff_media_type(data))
            if len(indices) == 1:
                dest = target if target.suffix else target.with_name(target.name + suffix)
            else:
                dest = target.with_name(f"{target.stem}-{i}{suffix}")
            atomic_write(dest, data)
            written.append(dest)
        return written

    # -- display
    #
    # One inline PNG or JPEG is shown as a native image output (text/plain beside it), with no
    # HTML copy: a notebook file would otherwise store the picture twice. Anything else (several
    # images, URLs, WEBP, GIF) is an HTML gallery that shows every image; with several images
    # the first one is also given as PNG/JPEG, for exporters that render no HTML (LaTeX/PDF).

    def _first_of_type(self, media_type: str) -> Optional[bytes]:
        # Display hooks must not raise: a URL or a broken payload just shows no picture here.
        try:
            if not self.images or self.media_type(0) != media_type:
                return None
            return self.image_bytes(0)
        except (ValueError, APIResponseValidationError):
            return None

    def _is_native_display(self) -> bool:
        """Whether the only image is inline PNG/JPEG, which notebooks show without HTML."""
        if len(self.images) != 1:
            return False
        try:
            return self.media_type(0) in ("image/png", "image/jpeg")
        except (ValueError, APIResponseValidationError):
            return False

    def _repr_png_(self) -> Optional[bytes]:
        """Jupyter hook: the first image's bytes if it is a PNG."""
        return self._first_of_type("image/png")

    def _repr_jpeg_(self) -> Optional[bytes]:
        """Jupyter hook: the first image's bytes if it is a JPEG."""
        return self._first_of_type("image/jpeg")

    def _repr_html_(self) -> Optional[str]:
        """Jupyter hook: every image as an ``<img>`` (data URI or URL), sized to the cell.

        ``None`` for a single inline PNG/JPEG, which the image hooks show natively.
        """
        if not self.images or self._is_native_display():
            return None
        from html import escape

        alt = escape(self.prompt or "", quote=True)
        # Several images share a row two by two; none is ever wider than the output area.
        width = "100%" if len(self.images) == 1 else "calc(50% - 4px)"
        tags = []
        for image in self.images:
            src = image if image[:5].lower() == "data:" or is_url(image) else None
            if src is None:
                src = base64_to_data_uri(image)
            tags.append(
                f'<img src="{escape(src, quote=True)}" alt="{alt}" title="{alt}" '
                f'style="max-width:{width};height:auto"/>'
            )
        return (
            '<div style="display:flex;flex-wrap:wrap;gap:8px;align-items:flex-start">'
            + "".join(tags)
            + "</div>"
        )

    def __repr__(self) -> str:
        parts = [f"images=[{', '.join(_describe_image(i) for i in self.images)}]"]
        for name in (
            "prompt",
            "seed",
            "nsfw_content_detected",
            "request_id",
            "inference_status",
            "model",
            "created",
            "revised_prompts",
        ):
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{name}={value!r}")
        return f"ImageResponse({', '.join(parts)})"
