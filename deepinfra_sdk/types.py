"""Typed results: dataclasses with one generated decoder each, and one way out.

Decoding takes one of two routes:

* ``Cls.from_wire(d)``: for dicts straight off the wire (``json.loads`` output). The decoder
  is generated from the dataclass's field annotations by :func:`_decoder` the first time a
  class decodes (straight-line code, positional constructor calls: no per-value
  introspection), and handles nested result classes, ``List[X]``, ``Optional[X]``,
  ``Dict[str, X]`` and plain values. It is tolerant: a missing or ``null`` optional key takes
  the field's default, and lists it does not need to transform are shared with ``d``. A missing
  required key, or a value of the wrong shape, raises
  :class:`~deepinfra_sdk.APIResponseValidationError`. The stream chunk alone keeps a
  hand-tuned decoder (``ChatCompletionChunk.from_wire``: a stream decodes hundreds of
  thousands a second), which the tests hold equal to the generated one.
* ``Cls.from_dict(d)`` / ``Cls.from_json(s)`` / ``Cls.schema()``: dataclasses-json, for
  canonical dicts (what ``to_dict`` produces): 150 to 300 times slower on a stream chunk
  (``bench/bench_types.py``). Unknown keys are excluded and missing optional fields are
  inferred as ``None``.

Both routes give equal objects for the same canonical dict. ``from_wire`` additionally maps the
wire's spellings onto the canonical fields, each declared on its field with
:func:`_wire_field` (other wire keys, a conversion, or a value computed from the whole object):

==========================================  =============================================
on the wire                                 field
==========================================  =============================================
delta/message ``reasoning``                 ``reasoning_content`` (if that key is absent)
embedding as a base64 string                ``Embedding.embedding`` as floats (LE float32)
``output`` (list or string), ``image_url``  ``ImageResponse.images``
``data[].b64_json`` / ``data[].url``        ``ImageResponse.images`` (``data:`` URI / URL)
``data[].revised_prompt``                   ``ImageResponse.revised_prompts``
==========================================  =============================================

Nothing the server sends is lost: a decoded object keeps a reference to its wire dict, and
``.extra`` is what the class does not model (computed on first read; ``{}`` when nothing).
``to_dict`` gives the fields and the extras back as plain JSON values; ``to_json`` is its
``json.dumps``. ``request_id`` is set on the result of a call (``None`` on nested objects).

dataclasses-json is imported on first use of ``from_dict``/``from_json``/``schema``, not when
this module is, because it and marshmallow cost tens of milliseconds to import and most
programs only ever decode.
"""

import dataclasses
import json
import os
import sys
import threading
import typing
from dataclasses import MISSING, dataclass, field
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    ClassVar,
    Dict,
    Generator,
    Iterator,
    List,
    Mapping,
    NamedTuple,
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
    format_mismatch,
    is_url,
    sniff_base64,
    sniff_data_uri,
    sniff_media_type,
)

if TYPE_CHECKING:
    import pathlib

    from typing_extensions import Self

__all__ = [
    "AudioResponse",
    "ChatChoice",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatMessage",
    "ChoiceDelta",
    "ChoiceLogprobs",
    "ChunkChoice",
    "Completion",
    "CompletionChoice",
    "CompletionTokensDetails",
    "Embedding",
    "EmbeddingResponse",
    "FunctionCall",
    "FunctionCallDelta",
    "ImageResponse",
    "InferenceResult",
    "InferenceStatus",
    "Model",
    "ModelSchema",
    "OpenAIModel",
    "Pricing",
    "PromptTokensDetails",
    "RerankResponse",
    "RerankResult",
    "TokenLogprob",
    "ToolCall",
    "ToolCallDelta",
    "TopLogprob",
    "Transcription",
    "TranscriptionSegment",
    "TranscriptionWord",
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


# --------------------------------------------------------------------------- the decoder


class _Wire(NamedTuple):
    """How one field is read off the wire (the ``_wire_field`` metadata)."""

    keys: Optional[Sequence[str]]
    convert: Optional[Callable[[Any], Any]]
    compute: Optional[Callable[[Mapping[str, Any]], Any]]
    missing: Any


_WIRE_META = "deepinfra_sdk.wire"


def _wire_field(
    default: Any = MISSING,
    *,
    default_factory: Any = MISSING,
    keys: Optional[Sequence[str]] = None,
    convert: Optional[Callable[[Any], Any]] = None,
    compute: Optional[Callable[[Mapping[str, Any]], Any]] = None,
    missing: Any = MISSING,
) -> Any:
    """A dataclass field with its wire spelling declared, for what the annotation cannot say.

    Args:
        default, default_factory: as for ``dataclasses.field``.
        keys: the wire keys to read, in order (the first that is not ``null`` wins); the
            field's name by default. All of them count as modelled (not in ``.extra``).
        convert: applied to a non-null wire value instead of the annotation's decoding.
        compute: called with the whole wire dict to produce the value (for fields the wire
            spreads over several keys); ``keys`` then lists the keys it reads.
        missing: the value of a required field whose key is absent or ``null`` (instead of
            an error), for positional fields the wire may leave out.
    """
    meta = {_WIRE_META: _Wire(keys, convert, compute, missing)}
    if default_factory is not MISSING:
        return field(default_factory=default_factory, metadata=meta)
    return field(default=default, metadata=meta)


_PLAIN_WIRE = _Wire(None, None, None, MISSING)


class _Decoder(NamedTuple):
    """A class's generated wire decoder and what it knows about the class."""

    decode: Callable[[Mapping[str, Any]], Any]
    known: frozenset  # type: ignore[type-arg]  # wire keys the class models
    names: Sequence[str]  # field names, for to_dict


_DECODERS: Dict[type, _Decoder] = {}
_BUILDING: Dict[type, bool] = {}
_BUILD_LOCK = threading.RLock()


def _decoder(cls: type) -> _Decoder:
    """``cls``'s decoder, generated on first use (once: later calls are a dict lookup)."""
    found = _DECODERS.get(cls)
    if found is None:
        with _BUILD_LOCK:
            found = _DECODERS.get(cls)
            if found is None:
                found = _DECODERS[cls] = _build(cls)
    return found


def _is_generated(func: Any) -> bool:
    return getattr(getattr(func, "__func__", func), "_generated", False)


def _nested(tp: type) -> Callable[[Any], Any]:
    """The decoding function to call for a nested result class."""
    if not _is_generated(getattr(tp, "from_wire", None)):
        # The class has its own from_wire (a hook around the generated one): respect it.
        return cast(Callable[[Any], Any], tp.from_wire)  # type: ignore[attr-defined]
    if _BUILDING.get(tp):  # a class that contains itself: look it up at call time
        return lambda d: _decoder(tp).decode(d)
    return _decoder(tp).decode


class _Codegen:
    """Names handed to the generated source, and the conversion expressions for a type."""

    def __init__(self) -> None:
        self.ns: Dict[str, Any] = {}
        self.counter = 0

    def name(self, value: Any, prefix: str) -> str:
        self.counter += 1
        name = f"{prefix}{self.counter}"
        self.ns[name] = value
        return name

    def convert(self, tp: Any, depth: int = 0) -> Optional[Callable[[str], str]]:
        """A function from a source expression to the expression decoding it as ``tp``;
        ``None`` when the wire value is used as it is."""
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if origin is Union:
            present = [a for a in args if a is not type(None)]
            return self.convert(present[0], depth) if len(present) == 1 else None
        if (
            isinstance(tp, type)
            and issubclass(tp, _JsonMixin)
            and "__dataclass_fields__" in dir(tp)
        ):
            fn = self.name(_nested(tp), "t")
            return lambda src: f"{fn}({src})"
        var = f"e{depth}"
        if origin in (list, List, Sequence, typing.get_origin(Sequence[int])) and args:
            inner = self.convert(args[0], depth + 1)
            if inner is not None:
                item = inner(var)
                return lambda src: f"[{item} for {var} in {src}]"
        if origin in (dict, Dict, Mapping, typing.get_origin(Mapping[str, int])) and args:
            inner = self.convert(args[1], depth + 1)
            if inner is not None:
                item = inner(var)
                key = f"k{depth}"
                return lambda src: f"{{{key}: {item} for {key}, {var} in {src}.items()}}"
        return None


def _build(cls: type) -> _Decoder:
    """Generate ``cls``'s decoder from its fields (see the module docstring for the rules)."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls.__name__} is not a dataclass: it has no fields to decode")
    _BUILDING[cls] = True
    try:
        hints = typing.get_type_hints(cls)
        gen = _Codegen()
        lines: List[str] = []
        args: List[str] = []
        known: List[str] = []
        names: List[str] = []
        keyword = False
        for f in dataclasses.fields(cls):
            names.append(f.name)
            spec: _Wire = f.metadata.get(_WIRE_META, _PLAIN_WIRE)
            keys = list(spec.keys or (f.name,))
            known.extend(keys)
            if not f.init:
                continue
            var = f"v{len(args)}"
            keyword = keyword or bool(getattr(f, "kw_only", False))
            args.append(f"{f.name}={var}" if keyword else var)
            if spec.compute is not None:
                lines.append(f"{var} = {gen.name(spec.compute, 'c')}(d)")
                continue
            lines.append(f"{var} = get({keys[0]!r})")
            lines.extend(f"if {var} is None: {var} = get({k!r})" for k in keys[1:])
            conv = gen.convert(hints.get(f.name, Any))
            if spec.convert is not None:
                fn = gen.name(spec.convert, "f")
                conv = lambda src, fn=fn: f"{fn}({src})"  # noqa: E731
            if f.default is not MISSING or f.default_factory is not MISSING:
                if f.default is MISSING:
                    default = gen.name(f.default_factory, "d") + "()"
                elif f.default is None or isinstance(f.default, (str, int, float, bool)):
                    default = repr(f.default)
                else:
                    default = gen.name(f.default, "d")
                if conv is None:
                    if default != "None":
                        lines.append(f"if {var} is None: {var} = {default}")
                elif default == "None":
                    lines.append(f"if {var} is not None: {var} = {conv(var)}")
                else:
                    lines.append(f"{var} = {default} if {var} is None else {conv(var)}")
                continue
            if spec.missing is not MISSING:
                missing = gen.name(spec.missing, "m")
                if conv is None:
                    lines.append(f"if {var} is None: {var} = {missing}")
                else:
                    lines.append(f"{var} = {missing} if {var} is None else {conv(var)}")
                continue
            present = " or ".join(f"{k!r} in d" for k in keys)
            lines.append(f"if {var} is None and not ({present}): raise KeyError({keys[0]!r})")
            if conv is not None:
                lines.append(f"{var} = {conv(var)}")
        gen.ns.update(cls=cls, _malformed=_malformed, _ERRORS=_DECODE_ERRORS)
        if cls.__dataclass_params__.frozen:  # type: ignore[attr-defined]
            keep = "object.__setattr__(o, '_wire', d)"
        else:
            keep = "o._wire = d"
        body = "\n".join("        " + line for line in lines)
        source = (
            "def decode(d):\n"
            "    try:\n"
            "        get = d.get\n"
            f"{body}\n"
            f"        o = cls({', '.join(args)})\n"
            f"        {keep}\n"
            "        return o\n"
            "    except _ERRORS as exc:\n"
            "        raise _malformed(cls, d, exc) from exc\n"
        )
        exec(compile(source, f"<from_wire of {cls.__qualname__}>", "exec"), gen.ns)
        decode = gen.ns["decode"]
        decode.__qualname__ = f"{cls.__qualname__}.from_wire"
        if "from_wire" not in vars(cls):
            # Installed on the class itself: a call skips the lookup in _DECODERS.
            def from_wire(c: type, d: Mapping[str, Any]) -> Any:
                return decode(d) if c is cls else _decoder(c).decode(d)

            from_wire._generated = True  # type: ignore[attr-defined]
            from_wire.__doc__ = _JsonMixin.from_wire.__doc__
            setattr(cls, "from_wire", classmethod(from_wire))  # noqa: B010
        return _Decoder(decode, frozenset(known), tuple(names))
    finally:
        del _BUILDING[cls]


def _plain(value: Any) -> Any:
    """``value`` as plain JSON values: result objects through their ``to_dict``."""
    if isinstance(value, _JsonMixin):
        return value.to_dict()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


class _JsonMixin:
    """Decoding (``from_wire``, generated), ``.extra``, ``to_dict``, and dataclasses-json's
    ``from_dict``/``from_json``/``schema`` imported only when first needed."""

    # Set lazily (it holds a dataclasses-json enum); read by dataclasses-json itself.
    dataclass_json_config: ClassVar[Optional[Dict[str, Any]]] = None
    #: The server's request id, on the result of a call (``None`` elsewhere).
    request_id: Optional[str] = None
    # The wire dict the object was decoded from, set by the decoders (for ``extra``).
    _wire: Mapping[str, Any]

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> "Self":
        """Decode a dict off the wire (see :mod:`deepinfra_sdk.types` for the rules)."""
        return cast("Self", _decoder(cls).decode(d))

    @property
    def extra(self) -> Dict[str, Any]:
        """The wire fields this class does not model (``{}`` when there are none)."""
        cached: Optional[Dict[str, Any]] = self.__dict__.get("_extra")
        if cached is not None:
            return cached
        wire = self.__dict__.get("_wire")
        if not wire:
            return {}
        known = _decoder(type(self)).known
        extra = {k: v for k, v in wire.items() if k not in known}
        self.__dict__["_extra"] = extra
        return extra

    def to_dict(self, encode_json: bool = False) -> Dict[str, Any]:
        """This object as a dict of JSON values keyed by field name, plus its ``extra``
        wire fields (``encode_json`` is accepted for dataclasses-json compatibility)."""
        out = {name: _plain(getattr(self, name)) for name in _decoder(type(self)).names}
        for key, value in self.extra.items():
            out.setdefault(key, _plain(value))
        return out

    def to_json(self, **kw: Any) -> str:
        """This object as a JSON string; keywords go to ``json.dumps``."""
        return json.dumps(self.to_dict(), **kw)

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
    other pricing keys are in ``extra``.
    """

    type: str = ""
    cents_per_input_token: Optional[float] = None
    cents_per_output_token: Optional[float] = None
    cents_per_sec: Optional[float] = None
    cents_per_image_unit: Optional[float] = None
    default_width: Optional[int] = None
    default_height: Optional[int] = None


@dataclass
class Model(_JsonMixin):
    """One entry of ``/models/featured`` or ``/models/list`` (only ``model_name`` is required).

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


# --------------------------------------------------------------------------- chat


@dataclass
class FunctionCall(_JsonMixin):
    """A complete function call: its name and its JSON-encoded arguments."""

    name: str
    arguments: str = ""


@dataclass
class ToolCall(_JsonMixin):
    """A complete tool call in an assistant message (a missing ``id`` becomes ``""``).

    Field order differs from the wire's (``type`` last) because it has a default.
    """

    id: str = _wire_field(missing="")
    function: FunctionCall = _wire_field()
    type: str = "function"


@dataclass
class FunctionCallDelta(_JsonMixin):
    """A fragment of a streamed function call: concatenate ``arguments`` across chunks."""

    name: Optional[str] = None
    arguments: Optional[str] = None


@dataclass
class ToolCallDelta(_JsonMixin):
    """A fragment of a streamed tool call; fragments with the same ``index`` belong together
    (a missing ``index`` means 0)."""

    index: int = 0
    id: Optional[str] = None
    type: Optional[str] = None
    function: Optional[FunctionCallDelta] = None


@dataclass
class TopLogprob(_JsonMixin):
    """One of the likeliest tokens at a position, with its log probability."""

    token: str = ""
    logprob: float = 0.0
    bytes: Optional[List[int]] = None


@dataclass
class TokenLogprob(_JsonMixin):
    """A generated token's log probability, and the likeliest alternatives (``top_logprobs``
    of them, when asked for)."""

    token: str = ""
    logprob: float = 0.0
    bytes: Optional[List[int]] = None
    top_logprobs: List[TopLogprob] = field(default_factory=list)


@dataclass
class ChoiceLogprobs(_JsonMixin):
    """The log probabilities of a choice's tokens (``logprobs=True``), in order."""

    content: Optional[List[TokenLogprob]] = None
    refusal: Optional[List[TokenLogprob]] = None


@dataclass
class ChatMessage(_JsonMixin):
    """A chat message, as sent in a request or returned in a completion (a missing ``role``
    means ``assistant``).

    ``reasoning_content`` holds a reasoning model's thinking (wire key ``reasoning_content`` or
    ``reasoning``). The message can be appended to ``messages`` as it is (or as its
    ``to_dict()``): the SDK sends no ``null`` but ``content``.
    """

    role: str = _wire_field(missing="assistant")
    content: Optional[str] = None
    reasoning_content: Optional[str] = _wire_field(None, keys=("reasoning_content", "reasoning"))
    tool_calls: Optional[List[ToolCall]] = None
    name: Optional[str] = None
    tool_call_id: Optional[str] = None

    @property
    def parsed(self) -> Any:
        """The content parsed into the type given to ``chat.completions.parse`` (``None``
        for a message that did not come from ``parse``)."""
        return self.__dict__.get("_parsed")


@dataclass
class PromptTokensDetails(_JsonMixin):
    """Where the prompt's tokens came from: ``cached_tokens`` were served from the prompt cache."""

    cached_tokens: int = 0


@dataclass
class CompletionTokensDetails(_JsonMixin):
    """What the completion's tokens were: ``reasoning_tokens`` were spent thinking."""

    reasoning_tokens: int = 0


@dataclass
class Usage(_JsonMixin):
    """Token counts (missing or null counts mean 0), and DeepInfra's ``estimated_cost`` where
    given (USD, unconfirmed). The details say how many prompt tokens hit the cache and how
    many completion tokens were reasoning."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    estimated_cost: Optional[float] = None
    prompt_tokens_details: Optional[PromptTokensDetails] = None
    completion_tokens_details: Optional[CompletionTokensDetails] = None

    @property
    def cached_tokens(self) -> int:
        """Prompt tokens served from the cache (0 when not reported)."""
        details = self.prompt_tokens_details
        return details.cached_tokens if details is not None else 0

    @property
    def reasoning_tokens(self) -> int:
        """Completion tokens spent reasoning (0 when not reported)."""
        details = self.completion_tokens_details
        return details.reasoning_tokens if details is not None else 0


@dataclass
class ChatChoice(_JsonMixin):
    """One alternative of a (non-streamed) chat completion; ``message`` is required, a missing
    ``index`` means 0."""

    index: int = _wire_field(missing=0)
    message: ChatMessage = _wire_field()
    finish_reason: Optional[str] = None
    logprobs: Optional[ChoiceLogprobs] = None


@dataclass
class ChatCompletion(_JsonMixin):
    """The answer to a non-streamed chat request.

    Missing ``id``/``object``/``model`` become ``""`` and a missing ``created`` 0, as in chunks.
    ``service_tier`` is the tier that served the request, when the server says.
    """

    id: str = ""
    object: str = ""
    created: int = 0
    model: str = ""
    choices: List[ChatChoice] = field(default_factory=list)
    usage: Optional[Usage] = None
    system_fingerprint: Optional[str] = None
    service_tier: Optional[str] = None

    @property
    def text(self) -> str:
        """The first choice's content, or ``""`` if there is none."""
        if not self.choices:
            return ""
        return self.choices[0].message.content or ""


@dataclass
class ChoiceDelta(_JsonMixin):
    """What one streamed chunk adds to a choice (wire ``reasoning`` maps to
    ``reasoning_content``)."""

    role: Optional[str] = None
    content: Optional[str] = None
    reasoning_content: Optional[str] = _wire_field(None, keys=("reasoning_content", "reasoning"))
    tool_calls: Optional[List[ToolCallDelta]] = None


@dataclass
class ChunkChoice(_JsonMixin):
    """One choice of a streamed chunk (a missing ``delta`` is an empty one)."""

    index: int = 0
    delta: ChoiceDelta = field(default_factory=ChoiceDelta)
    finish_reason: Optional[str] = None
    logprobs: Optional[ChoiceLogprobs] = None


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
    service_tier: Optional[str] = None

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> "Self":
        """Decode a wire chunk: the streaming hot path, hand-tuned (the tests hold it equal
        to the generated decoder).

        Choices and deltas are built inline, with positional constructor calls, which
        measured fastest; each object keeps its wire dict for ``.extra``.
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
                        decoded._wire = delta
                    index = cget("index")
                    logprobs = cget("logprobs")
                    choice = _ChunkChoice(
                        0 if index is None else index,
                        decoded,
                        cget("finish_reason"),
                        None if logprobs is None else _logprobs(logprobs),
                    )
                    choice._wire = c
                    choices.append(choice)
            usage = get("usage")
            chunk = cls(
                get("id") or "",
                get("object") or "",
                get("created") or 0,
                get("model") or "",
                choices,
                None if usage is None else _usage(usage),
                get("service_tier"),
            )
            chunk._wire = d
            return chunk
        except _DECODE_ERRORS as exc:
            raise _malformed(cls, d, exc) from exc


# Module-level aliases read by the chunk decoder: plain globals, no class attribute lookups.
_ChoiceDelta = ChoiceDelta
_ChunkChoice = ChunkChoice


# The generated decoders the chunk decoder calls, bound on first use (each first call swaps
# in the decoder itself, so later chunks call it directly).
def _first_tool_call_delta(d: Mapping[str, Any]) -> ToolCallDelta:
    global _tool_call_delta
    _tool_call_delta = _decoder(ToolCallDelta).decode
    return cast(ToolCallDelta, _tool_call_delta(d))


def _first_usage(d: Mapping[str, Any]) -> Usage:
    global _usage
    _usage = _decoder(Usage).decode
    return cast(Usage, _usage(d))


def _first_logprobs(d: Mapping[str, Any]) -> ChoiceLogprobs:
    global _logprobs
    _logprobs = _decoder(ChoiceLogprobs).decode
    return cast(ChoiceLogprobs, _logprobs(d))


_tool_call_delta: Callable[[Mapping[str, Any]], ToolCallDelta] = _first_tool_call_delta
_usage: Callable[[Mapping[str, Any]], Usage] = _first_usage
_logprobs: Callable[[Mapping[str, Any]], ChoiceLogprobs] = _first_logprobs


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


def _vector(value: Any) -> Any:
    return _floats_from_base64(value) if isinstance(value, str) else value


@dataclass
class Embedding(_JsonMixin):
    """One input's embedding vector (a base64 string on the wire is decoded to floats; a
    missing ``index`` means 0, or the entry's position in an ``EmbeddingResponse``)."""

    index: int = _wire_field(missing=0)
    embedding: List[float] = _wire_field(convert=_vector)
    object: str = "embedding"


def _embeddings(entries: Any) -> List[Embedding]:
    """Entries without an ``index`` take their position."""
    decode = _decoder(Embedding).decode
    return [
        decode(e if isinstance(e, Mapping) and "index" in e else {**e, "index": i})
        for i, e in enumerate(entries)
    ]


@dataclass
class EmbeddingResponse(_JsonMixin):
    """The answer to an embeddings request."""

    data: List[Embedding] = _wire_field(convert=_embeddings)
    model: str = ""
    usage: Optional[Usage] = None
    object: str = "list"

    @property
    def embeddings(self) -> List[List[float]]:
        """The vectors in input order (sorted by ``index``)."""
        return [e.embedding for e in sorted(self.data, key=lambda e: e.index)]


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
    """Images from the first of DeepInfra's answer shapes present: ``images``, ``output``,
    ``image_url``, ``data[]``."""
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


def _revised_prompts(d: Mapping[str, Any]) -> Optional[List[Optional[str]]]:
    """``revised_prompts``, else each ``data[].revised_prompt`` (``None`` if none has one)."""
    revised = d.get("revised_prompts")
    data = d.get("data")
    if revised is None and data:
        revised = [entry.get("revised_prompt") for entry in data]
        if not any(r is not None for r in revised):
            revised = None
    return cast(Optional[List[Optional[str]]], revised)


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

    images: List[str] = _wire_field(
        compute=_wire_images, keys=("images", "output", "image_url", "data")
    )
    prompt: Optional[str] = None
    seed: Optional[int] = None
    nsfw_content_detected: Optional[List[bool]] = None
    request_id: Optional[str] = None
    inference_status: Optional[InferenceStatus] = None
    model: Optional[str] = None
    created: Optional[int] = None
    revised_prompts: Optional[List[Optional[str]]] = _wire_field(
        None, compute=_revised_prompts, keys=("revised_prompts", "data")
    )

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
        result = cast("Self", _decoder(cls).decode(d))
        if prompt is not None:
            result.prompt = prompt
        if model is not None:
            result.model = model
        return result

    # -- compatibility and container protocol

    @property
    def alt(self) -> Optional[str]:
        """The prompt (the old provider's name for it)."""
        return self.prompt

    # The old provider's ImageResponse (g4f) interface: code written against it keeps
    # working, whether it awaits the chunk it was given (as from 2025-01) or not.

    @property
    def urls(self) -> List[str]:
        """The images (the name g4f's ImageResponse gives them)."""
        return self.images

    def get_list(self) -> List[str]:
        """The images as a list (g4f's name; ``.images`` is always a list here)."""
        return list(self.images)

    @property
    def options(self) -> Dict[str, Any]:
        """What else the answer says, by name (``seed``, ``model``, ``request_id``...):
        g4f's free-form options, filled from the fields that are set."""
        names = ("seed", "model", "request_id", "nsfw_content_detected", "created")
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}

    def get(self, key: str) -> Any:
        """``options[key]``, or None (g4f's accessor)."""
        return self.options.get(key)

    def __str__(self) -> str:
        """Markdown, as g4f printed it: ``[![alt](url)](url)`` per image, one per line."""
        alt = (self.prompt or "").replace("\n", " ")
        if len(self.images) == 1:
            return f"[![{alt}]({self.images[0]})]({self.images[0]})"
        return "\n".join(f"[![#{i} {alt}]({url})]({url})" for i, url in enumerate(self.images, 1))

    def __await__(self) -> Generator[Any, None, "ImageResponse"]:
        """Awaiting the response gives the response: g4f yielded a coroutine for image
        models, so its callers write ``await chunk``."""
        return _ready(self).__await__()

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

        A suffix naming another format than the image's (``.jpg`` for PNG bytes) raises
        :class:`~deepinfra_sdk.ArgumentValueError` naming the real format and its suffix,
        before anything is written: the bytes are saved as they came, never converted.
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
        payloads = {i: self.image_bytes(i) for i in indices}
        for i, data in payloads.items():
            # The bytes are written as they came: a suffix naming another format is refused
            # before anything is written, rather than leave PNG bytes in a ".jpg".
            problem = format_mismatch(target.suffix, sniff_media_type(data))
            if problem is not None:
                raise ArgumentValueError(f"cannot save image {i} to {target.name!r}: {problem}")
        written = []
        for i in indices:
            data = payloads.pop(i)
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


async def _ready(value: ImageResponse) -> ImageResponse:
    return value


# --------------------------------------------------------------------------- audio, rerank,
# native inference, text completions, the OpenAI-shaped model list


@dataclass
class TranscriptionWord(_JsonMixin):
    """One word of a ``verbose_json`` transcription, with its time span in seconds."""

    word: str
    start: float
    end: float


@dataclass
class TranscriptionSegment(_JsonMixin):
    """One segment (about a sentence) of a ``verbose_json`` transcription; Whisper's other
    segment fields (``tokens``, ``avg_logprob``, ...) are in ``extra``."""

    id: int
    start: float
    end: float
    text: str


@dataclass
class Transcription(_JsonMixin):
    """A transcription or translation: the ``text``; with ``response_format="verbose_json"``
    also the ``language``, ``duration`` (seconds), ``segments`` and (when asked for with
    ``timestamp_granularities``) ``words``."""

    text: str
    language: Optional[str] = None
    duration: Optional[float] = None
    task: Optional[str] = None
    segments: Optional[List[TranscriptionSegment]] = None
    words: Optional[List[TranscriptionWord]] = None


_AUDIO_SUFFIXES = {
    "audio/wav": ".wav",
    "audio/mpeg": ".mp3",
    "audio/ogg": ".opus",
    "audio/flac": ".flac",
    "audio/aac": ".aac",
    "audio/pcm": ".pcm",
}


def sniff_audio_type(data: bytes, asked: Optional[str] = None) -> str:
    """The media type of audio ``data`` judged by its first bytes (raw ``pcm`` has none:
    ``asked`` is the format requested, trusted only then)."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav"
    if data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        return "audio/aac" if data[1] & 0x06 == 0 and asked == "aac" else "audio/mpeg"
    if data[:4] == b"OggS":
        return "audio/ogg"
    if data[:4] == b"fLaC":
        return "audio/flac"
    return "audio/pcm" if asked == "pcm" else "application/octet-stream"


@dataclass(repr=False)
class AudioResponse:
    """Speech: the audio's bytes (``content``; ``bytes(resp)`` too), the ``media_type``
    judged by the bytes themselves, :meth:`save` to a file, and a player in Jupyter."""

    content: bytes
    response_format: Optional[str] = None
    model: Optional[str] = None
    request_id: Optional[str] = None

    @property
    def media_type(self) -> str:
        """``audio/wav``, ``audio/mpeg``, ``audio/ogg``, ``audio/flac``, ``audio/pcm`` (raw
        samples, when asked for) or ``application/octet-stream``."""
        return sniff_audio_type(self.content[:16], self.response_format)

    def __bytes__(self) -> bytes:
        return self.content

    def __len__(self) -> int:
        return len(self.content)

    def save(self, path: Union[str, "os.PathLike[str]"]) -> "pathlib.Path":
        """Write the audio to ``path`` atomically and return the path written; a path
        without a suffix gets one from the media type (``.wav``, ``.mp3``...), an existing
        directory receives ``speech<suffix>``, and a suffix naming another audio format
        raises :class:`~deepinfra_sdk.ArgumentValueError` (the SDK converts no formats)."""
        import pathlib

        target = pathlib.Path(path)
        if target.is_dir():
            target = target / "speech"
        kind = self.media_type
        if not target.suffix:
            target = target.with_name(target.name + _AUDIO_SUFFIXES.get(kind, ".bin"))
        named = next((t for t, x in _AUDIO_SUFFIXES.items() if x == target.suffix.lower()), None)
        if named not in (None, kind) and kind in _AUDIO_SUFFIXES:
            # The bytes are written as they came: a suffix naming another format would lie.
            raise ArgumentValueError(
                f"cannot save {kind} audio to {target.name!r}, whose suffix names {named}: "
                f"use {_AUDIO_SUFFIXES[kind]!r}, or ask for that format with response_format"
            )
        atomic_write(target, self.content)
        return target

    def _repr_html_(self) -> Optional[str]:
        """Jupyter hook: an ``<audio>`` player (raw PCM has no container to play)."""
        kind = self.media_type
        if kind not in _AUDIO_SUFFIXES or kind == "audio/pcm":
            return None
        import base64

        data = base64.b64encode(self.content).decode("ascii")
        return f'<audio controls src="data:{kind};base64,{data}"></audio>'

    def __repr__(self) -> str:
        size = len(self.content)
        human = f"{size / 1024:.1f} KB" if size >= 1024 else f"{size} B"
        return f"AudioResponse(<{self.media_type}, {human}>, model={self.model!r})"


@dataclass
class RerankResult(_JsonMixin):
    """One document's place in a rerank: its ``index`` in the request, the ``document``
    text and its relevance ``score`` (0 to 1)."""

    index: int
    document: str
    score: float


@dataclass
class RerankResponse(_JsonMixin):
    """A rerank: ``results`` best first (``top_n`` of them when asked), ``scores`` in the
    documents' order, the ``input_tokens`` and the native ``inference_status``."""

    results: List[RerankResult]
    scores: List[float] = field(default_factory=list)
    model: Optional[str] = None
    input_tokens: Optional[int] = None
    inference_status: Optional[InferenceStatus] = None


@dataclass
class InferenceResult(_JsonMixin):
    """The answer of ``POST /v1/inference/{model}``: ``body`` is the whole JSON answer
    (``result["text"]`` reads a key of it), ``inference_status`` the bookkeeping
    (``.status``: ``queued`` for a webhook call), ``request_id`` the server's id."""

    body: Dict[str, Any] = _wire_field(default_factory=dict, compute=dict)
    inference_status: Optional[InferenceStatus] = None

    @property
    def status(self) -> str:
        """``inference_status.status`` (``unknown`` when the answer has none)."""
        return self.inference_status.status if self.inference_status else "unknown"

    @property
    def cost(self) -> Optional[float]:
        """The charge in US dollars, when the answer says."""
        return self.inference_status.cost if self.inference_status else None

    def __getitem__(self, key: str) -> Any:
        return self.body[key]

    def __contains__(self, key: object) -> bool:
        return key in self.body


@dataclass
class ModelSchema(_JsonMixin):
    """What a model takes and gives on one API variant (``default`` = the native route):
    JSON schemas ``schema_in``/``schema_out``, and the input field names ``fields_in``."""

    variant: Dict[str, Any]
    schema_in: Dict[str, Any] = field(default_factory=dict)
    schema_out: Dict[str, Any] = field(default_factory=dict)
    schema_stream: Optional[Dict[str, Any]] = None
    fields_in: List[str] = field(default_factory=list)


@dataclass
class OpenAIModel(_JsonMixin):
    """An entry of ``/v1/openai/models`` (the OpenAI-shaped list): ``metadata`` holds the
    description, context length, pricing and tags where the server gives them."""

    id: str
    object: str = "model"
    created: Optional[int] = None
    owned_by: Optional[str] = None
    root: Optional[str] = None
    parent: Optional[str] = None
    metadata: Optional[Dict[str, Any]] = None


@dataclass
class CompletionChoice(_JsonMixin):
    """One alternative of a text completion (in a stream chunk: the next piece)."""

    index: int = 0
    text: str = ""
    finish_reason: Optional[str] = None
    logprobs: Optional[Any] = None


@dataclass
class Completion(_JsonMixin):
    """A text completion (``/v1/openai/completions``), or one chunk of its stream; ``text``
    is the first choice's text, ``usage`` the tokens and cost (on the last chunk)."""

    id: str = ""
    choices: List[CompletionChoice] = field(default_factory=list)
    created: int = 0
    model: str = ""
    object: str = "text_completion"
    usage: Optional[Usage] = None

    @property
    def text(self) -> str:
        """The first choice's text (``""`` when there is none)."""
        return self.choices[0].text if self.choices else ""
