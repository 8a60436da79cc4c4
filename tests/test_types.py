"""Typed results: both decoding routes agree, tolerate the wire, and round-trip."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deepinfra_sdk._exceptions import APIResponseValidationError
from deepinfra_sdk.types import (
    ChatChoice,
    ChatCompletion,
    ChatCompletionChunk,
    ChatMessage,
    ChoiceDelta,
    ChunkChoice,
    Embedding,
    EmbeddingResponse,
    FunctionCall,
    FunctionCallDelta,
    ImageResponse,
    InferenceStatus,
    Model,
    Pricing,
    PromptTokensDetails,
    ToolCall,
    ToolCallDelta,
    Usage,
    _decoder,
    _JsonMixin,
    _wire_field,
)

REPO = Path(__file__).resolve().parent.parent

# ----------------------------------------------------------------- wire examples (wire.md)

MODEL_ENTRY = """
{"model_name":"runwayml/stable-diffusion-v1-5","type":"text-to-image","reported_type":"text-to-image",
 "description":"Most widely used version of Stable Diffusion. Trained on 512x512 images",
 "cover_img_url":"https://shared.deepinfra.com/models/runwayml/stable-diffusion-v1-5/cover_image.jpg",
 "tags":[],"pricing":{"type":"time","cents_per_sec":0.05},"max_tokens":null,
 "replaced_by":"stabilityai/sdxl-turbo","deprecated":1727456682,"quantization":null,"private":0}
"""

TEXT_MODEL_ENTRY = """
{"model_name":"meta-llama/Llama-3.3-70B-Instruct-Turbo","type":"text-generation",
 "reported_type":"text-generation","tags":["chat","fast"],"max_tokens":131072,
 "pricing":{"type":"tokens","cents_per_input_token":0.0000012,"cents_per_output_token":0.000004,
            "cents_per_input_cached_token":0.000001},
 "deprecated":null,"mmlu":0.86,"quantization":"fp8","private":0}
"""

CHAT_COMPLETION = """
{"id":"chatcmpl-guMTxWgpFf","object":"chat.completion","created":1694623155,
 "model":"meta-llama/Llama-3.3-70B-Instruct-Turbo",
 "choices":[{"index":0,"message":{"role":"assistant","content":" Hello! It's nice to meet you."},
             "finish_reason":"stop"}],
 "usage":{"prompt_tokens":15,"completion_tokens":16,"total_tokens":31,"estimated_cost":0.0000268}}
"""

CHAT_COMPLETION_TOOLS = """
{"id":"chatcmpl-2","object":"chat.completion","created":1694623155,"model":"m",
 "choices":[{"index":0,"finish_reason":"tool_calls","logprobs":null,
   "message":{"role":"assistant","content":null,"reasoning_content":"Need weather.",
     "tool_calls":[{"id":"call_1","type":"function",
                    "function":{"name":"get_weather","arguments":"{\\"city\\": \\"Paris\\"}"}}]}}],
 "usage":{"prompt_tokens":80,"completion_tokens":20,"total_tokens":100},
 "system_fingerprint":"fp_1"}
"""

CHUNK_CONTENT = """
{"id":"chatcmpl-guMTxWgpFf","object":"chat.completion.chunk","created":1694623155,
 "model":"meta-llama/Llama-3.3-70B-Instruct-Turbo",
 "choices":[{"index":0,"delta":{"role":"assistant","content":" Hello"},"finish_reason":null,
             "logprobs":null}]}
"""

CHUNK_FINISH_USAGE = """
{"id":"chatcmpl-guMTxWgpFf","object":"chat.completion.chunk","created":1694623155,
 "model":"meta-llama/Llama-3.3-70B-Instruct-Turbo",
 "choices":[{"index":0,"delta":{"content":""},"finish_reason":"stop"}],
 "usage":{"prompt_tokens":15,"completion_tokens":16,"total_tokens":31,"estimated_cost":0.0000268}}
"""

CHUNK_TOOL_CALLS = """
{"id":"chatcmpl-3","object":"chat.completion.chunk","created":1694623155,"model":"m",
 "choices":[{"index":0,"finish_reason":null,"delta":{"role":"assistant","content":null,
   "tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}},
                 {"index":1,"function":{"arguments":"{\\"ci"}}]}}]}
"""

CHUNK_REASONING = """
{"id":"chatcmpl-4","object":"chat.completion.chunk","created":1694623155,"model":"deepseek-ai/DeepSeek-R1",
 "choices":[{"index":0,"delta":{"reasoning_content":"Let me think"},"finish_reason":null}]}
"""

NATIVE_IMAGE = """
{"images":["data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVQI12PQz3wAAAJDAXkkWn+MAAAAAElFTkSuQmCC"],
 "nsfw_content_detected":[false],"seed":42,"request_id":null,
 "inference_status":{"status":"unknown","runtime_ms":0,"cost":0.0,"tokens_generated":0,"tokens_input":0}}
"""

# wire.md abbreviates the payload ("/9j/4AAQ..."); this is a complete minimal JFIF.
JPEG_B64 = "/9j/4AAQSkZJRgABAQAAAQABAAD/2Q=="
OPENAI_IMAGE = (
    '{"created": 1707000000, "data": [{"b64_json": "' + JPEG_B64 + '", "revised_prompt": "..."}]}'
)

EMBEDDINGS = """
{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.0123,-0.045,0.5]},
                         {"object":"embedding","index":1,"embedding":[1.5,2.5,-3.5]}],
 "model":"BAAI/bge-large-en-v1.5","usage":{"prompt_tokens":4,"total_tokens":4}}
"""

# (class, wire JSON, canonical dict when the wire spells something differently from the fields)
EXAMPLES: list[tuple[type[Any], str, dict[str, Any] | None]] = [
    (Model, MODEL_ENTRY, None),
    (Model, TEXT_MODEL_ENTRY, None),
    (ChatCompletion, CHAT_COMPLETION, None),
    (ChatCompletion, CHAT_COMPLETION_TOOLS, None),
    (ChatCompletionChunk, CHUNK_CONTENT, None),
    (ChatCompletionChunk, CHUNK_FINISH_USAGE, None),
    (ChatCompletionChunk, CHUNK_TOOL_CALLS, None),
    (ChatCompletionChunk, CHUNK_REASONING, None),
    (ImageResponse, NATIVE_IMAGE, None),
    (
        ImageResponse,
        OPENAI_IMAGE,
        {
            "images": ["data:image/jpeg;base64," + JPEG_B64],
            "created": 1707000000,
            "revised_prompts": ["..."],
        },
    ),
    (EmbeddingResponse, EMBEDDINGS, None),
]
IDS = [
    "model",
    "text-model",
    "chat",
    "chat-tools",
    "chunk-content",
    "chunk-finish-usage",
    "chunk-tool-calls",
    "chunk-reasoning",
    "native-image",
    "openai-image",
    "embeddings",
]


@pytest.mark.parametrize(("cls", "wire", "canonical"), EXAMPLES, ids=IDS)
def test_from_wire_equals_from_dict(
    cls: type[Any], wire: str, canonical: dict[str, Any] | None
) -> None:
    d = json.loads(wire)
    fast = cls.from_wire(d)
    slow = cls.from_dict(canonical if canonical is not None else d)
    assert type(fast) is cls
    assert fast == slow


@pytest.mark.parametrize(("cls", "wire", "canonical"), EXAMPLES, ids=IDS)
def test_round_trips(cls: type[Any], wire: str, canonical: dict[str, Any] | None) -> None:
    obj = cls.from_wire(json.loads(wire))
    assert cls.from_json(obj.to_json()) == obj
    assert cls.from_dict(obj.to_dict()) == obj
    # to_dict's output is canonical, and from_wire reads the canonical spelling too.
    assert cls.from_wire(obj.to_dict()) == obj
    assert cls.from_wire(json.loads(obj.to_json())) == obj
    schema = cls.schema()
    assert schema.load(json.loads(schema.dumps(obj))) == obj


def test_wire_examples_decode_to_the_expected_values() -> None:
    model = Model.from_wire(json.loads(MODEL_ENTRY))
    assert model.name == "runwayml/stable-diffusion-v1-5"
    assert model.pricing == Pricing("time", cents_per_sec=0.05)
    assert model.is_deprecated
    assert model.replaced_by == "stabilityai/sdxl-turbo"
    assert model.tags == []
    text_model = Model.from_wire(json.loads(TEXT_MODEL_ENTRY))
    assert not text_model.is_deprecated
    assert text_model.max_tokens == 131072
    assert text_model.pricing is not None
    assert text_model.pricing.cents_per_output_token == 0.000004

    chat = ChatCompletion.from_wire(json.loads(CHAT_COMPLETION))
    assert chat.text == " Hello! It's nice to meet you."
    assert chat.usage == Usage(15, 16, 31, 0.0000268)
    tools = ChatCompletion.from_wire(json.loads(CHAT_COMPLETION_TOOLS))
    assert tools.text == ""
    assert tools.choices[0] == ChatChoice(
        0,
        ChatMessage(
            "assistant",
            None,
            "Need weather.",
            [ToolCall("call_1", FunctionCall("get_weather", '{"city": "Paris"}'))],
        ),
        "tool_calls",
    )
    assert tools.system_fingerprint == "fp_1"

    finish = ChatCompletionChunk.from_wire(json.loads(CHUNK_FINISH_USAGE))
    assert finish.choices[0].finish_reason == "stop"
    assert finish.usage is not None
    assert finish.usage.estimated_cost == 0.0000268

    native = ImageResponse.from_wire(json.loads(NATIVE_IMAGE))
    assert native.media_type() == "image/png"
    assert native.image_bytes().startswith(b"\x89PNG")
    assert native.inference_status == InferenceStatus("unknown", 0, 0.0, 0, 0)

    emb = EmbeddingResponse.from_wire(json.loads(EMBEDDINGS))
    assert emb.embeddings == [[0.0123, -0.045, 0.5], [1.5, 2.5, -3.5]]
    assert emb.usage == Usage(prompt_tokens=4, total_tokens=4)


# ----------------------------------------------------------------- chat specifics


def test_reasoning_alias_maps_to_reasoning_content() -> None:
    wire = json.loads(CHUNK_REASONING)
    wire["choices"][0]["delta"] = {"reasoning": "Let me think"}
    assert ChatCompletionChunk.from_wire(wire) == ChatCompletionChunk.from_dict(
        json.loads(CHUNK_REASONING)
    )
    # Through the non-inline decoders too.
    assert ChoiceDelta.from_wire({"reasoning": "r"}) == ChoiceDelta(reasoning_content="r")
    assert ChatMessage.from_wire({"role": "assistant", "reasoning": "r"}).reasoning_content == "r"
    # The canonical key wins when a server sends both.
    both = {"reasoning_content": "canonical", "reasoning": "alias"}
    assert ChoiceDelta.from_wire(both).reasoning_content == "canonical"
    wire["choices"][0]["delta"] = both
    assert ChatCompletionChunk.from_wire(wire).choices[0].delta.reasoning_content == "canonical"


def test_tool_call_deltas() -> None:
    chunk = ChatCompletionChunk.from_wire(json.loads(CHUNK_TOOL_CALLS))
    calls = chunk.choices[0].delta.tool_calls
    assert calls == [
        ToolCallDelta(0, "call_1", "function", FunctionCallDelta("get_weather", "")),
        ToolCallDelta(1, None, None, FunctionCallDelta(None, '{"ci')),
    ]
    # Fragments concatenate into the arguments, as a stream consumer would do.
    pieces = ['{"ci', 'ty": "Pa', 'ris"}']
    frames = [
        {"choices": [{"delta": {"tool_calls": [{"function": {"arguments": p}}]}}]} for p in pieces
    ]
    joined = "".join(
        (tc.function.arguments or "")
        for f in frames
        for tc in ChatCompletionChunk.from_wire(f).choices[0].delta.tool_calls or []
        if tc.function is not None
    )
    assert json.loads(joined) == {"city": "Paris"}
    # A fragment without index (seen from some servers) belongs to call 0.
    assert ToolCallDelta.from_wire({"function": {"arguments": "x"}}).index == 0
    assert ToolCallDelta.from_wire({"index": 2}) == ToolCallDelta(2)


def test_chunk_tolerates_missing_and_unknown_fields() -> None:
    bare = ChatCompletionChunk.from_wire({"choices": [{"delta": {"content": "x"}}]})
    assert bare == ChatCompletionChunk(choices=[ChunkChoice(0, ChoiceDelta(content="x"))])
    assert (bare.id, bare.object, bare.created, bare.model, bare.usage) == ("", "", 0, "", None)
    assert ChatCompletionChunk.from_wire({}) == ChatCompletionChunk()
    # A finish chunk without a delta gets an empty one.
    assert ChatCompletionChunk.from_wire({"choices": [{"finish_reason": "stop"}]}).choices == [
        ChunkChoice(0, ChoiceDelta(), "stop")
    ]
    noisy = json.loads(CHUNK_CONTENT)
    noisy["system_fingerprint"] = "x"
    noisy["choices"][0]["stop_reason"] = None
    noisy["choices"][0]["delta"]["audio"] = {"id": "a"}
    noisy["usage"] = {"prompt_tokens": 1, "prompt_tokens_details": {"cached_tokens": 0}}
    expected = ChatCompletionChunk.from_wire(json.loads(CHUNK_CONTENT))
    expected.usage = Usage(prompt_tokens=1, prompt_tokens_details=PromptTokensDetails(0))
    decoded = ChatCompletionChunk.from_wire(noisy)
    assert decoded == expected
    assert ChatCompletionChunk.from_dict(noisy) == expected
    # What the classes do not model is kept, at every level, and given back by to_dict.
    assert decoded.extra == {"system_fingerprint": "x"}
    assert decoded.choices[0].extra == {"stop_reason": None}
    assert decoded.choices[0].delta.extra == {"audio": {"id": "a"}}
    assert expected.extra == {} and expected.choices[0].delta.extra == {}
    assert ChatCompletionChunk().extra == {}
    assert decoded.to_dict()["system_fingerprint"] == "x"
    assert decoded.to_dict()["choices"][0]["delta"]["audio"] == {"id": "a"}


def test_other_classes_tolerate_missing_and_unknown_fields() -> None:
    assert Model.from_wire({"model_name": "a/b", "shiny": 1}) == Model("a/b")
    assert Model.from_dict({"model_name": "a/b", "shiny": 1}) == Model("a/b")
    assert Pricing.from_wire({"type": "image_units", "cents_per_image_unit": 1, "x": 2}) == (
        Pricing("image_units", cents_per_image_unit=1)
    )
    assert ChatCompletion.from_wire({"choices": [{"message": {"content": "hi"}}]}).text == "hi"
    assert ChatCompletion.from_wire({}).text == ""
    assert Usage.from_wire({"prompt_tokens": None, "total_tokens": 3}) == Usage(0, 0, 3)
    assert ToolCall.from_wire({"function": {"name": "f"}}) == ToolCall("", FunctionCall("f", ""))
    assert InferenceStatus.from_wire({}) == InferenceStatus()
    assert EmbeddingResponse.from_wire({"data": [{"embedding": [1.0]}, {"embedding": [2.0]}]}) == (
        EmbeddingResponse([Embedding(0, [1.0]), Embedding(1, [2.0])])
    )


@pytest.mark.parametrize(
    ("cls", "payload", "match"),
    [
        (ChatCompletionChunk, {"choices": 5}, "ChatCompletionChunk"),
        (ChatCompletionChunk, {"choices": [{"delta": "text"}]}, "ChatCompletionChunk"),
        (ChatCompletionChunk, {"choices": [{"delta": {"tool_calls": [7]}}]}, "ToolCallDelta"),
        (ChatCompletionChunk, {"choices": [], "usage": []}, "Usage"),
        (Model, {"type": "text-generation"}, "missing key 'model_name'"),
        (ChatChoice, {"index": 0}, "missing key 'message'"),
        (ChatCompletion, {"choices": [{"index": 0}]}, "ChatChoice"),
        (ToolCall, {"id": "c"}, "missing key 'function'"),
        (FunctionCall, {"arguments": "{}"}, "missing key 'name'"),
        (EmbeddingResponse, {"model": "m"}, "missing key 'data'"),
        (Embedding, {"index": 0}, "missing key 'embedding'"),
        (ImageResponse, {"inference_status": "done"}, "InferenceStatus"),
    ],
)
def test_malformed_payloads_raise_validation_error(
    cls: type[Any], payload: dict[str, Any], match: str
) -> None:
    with pytest.raises(APIResponseValidationError, match=match) as info:
        cls.from_wire(payload)
    assert info.value.body is not None


def test_model_properties() -> None:
    m = Model("owner/name", "text-generation", deprecated=None)
    assert m.name == "owner/name"
    assert not m.is_deprecated
    assert Model("a/b", deprecated=0).is_deprecated is False
    assert Model("a/b", deprecated=1727456682).is_deprecated is True


def test_chat_completion_text() -> None:
    assert ChatCompletion().text == ""
    msg = ChatMessage("assistant", None)
    assert ChatCompletion(choices=[ChatChoice(0, msg)]).text == ""


# ----------------------------------------------------------------- embeddings


def _b64_floats(values: list[float]) -> str:
    import base64

    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode("ascii")


def test_base64_embeddings_are_decoded_little_endian_float32() -> None:
    values = [0.5, -1.25, 3.0, 1e-3]
    wire = {
        "object": "list",
        "model": "m",
        "data": [
            {"object": "embedding", "index": 1, "embedding": _b64_floats(values)},
            {"object": "embedding", "index": 0, "embedding": _b64_floats([7.0])},
        ],
    }
    resp = EmbeddingResponse.from_wire(wire)
    got = resp.data[0].embedding
    assert got[:3] == [0.5, -1.25, 3.0]
    assert got[3] == pytest.approx(1e-3, rel=1e-6)
    assert all(type(x) is float for x in got)
    assert resp.embeddings[0] == [7.0]  # index order, not wire order
    assert resp.embeddings[1] is got
    assert Embedding.from_wire({"embedding": "AAAAPwAAoL8AAEBA"}).embedding == [0.5, -1.25, 3.0]


def test_bad_base64_embedding_raises() -> None:
    with pytest.raises(APIResponseValidationError, match="whole number of float32"):
        Embedding.from_wire({"embedding": "AAAAAAA="})  # 5 bytes
    with pytest.raises(APIResponseValidationError, match="invalid base64"):
        Embedding.from_wire({"embedding": "AAAA!AAA"})


# ----------------------------------------------------------------- property: both routes agree

_text = st.text(max_size=20)
_opt_text = st.none() | _text
_json_scalar = st.none() | st.booleans() | st.integers() | _text


def _maybe(key: str, strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(st.just({}), strategy.map(lambda v: {key: v}))


def _merge(*parts: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    def combine(dicts: tuple[dict[str, Any], ...]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for d in dicts:
            out.update(d)
        return out

    return st.tuples(*parts).map(combine)


_unknown = _maybe("x_unknown_field", st.dictionaries(_text, _json_scalar, max_size=2))
_function_delta = _merge(_maybe("name", _opt_text), _maybe("arguments", _opt_text), _unknown)
_tool_call_delta = _merge(
    st.integers(0, 3).map(lambda i: {"index": i}),
    _maybe("id", _opt_text),
    _maybe("type", st.none() | st.just("function")),
    _maybe("function", st.none() | _function_delta),
)
_delta = _merge(
    _maybe("role", st.none() | st.sampled_from(["assistant", "tool"])),
    _maybe("content", _opt_text),
    _maybe("reasoning_content", _opt_text),
    _maybe("tool_calls", st.none() | st.lists(_tool_call_delta, max_size=3)),
    _unknown,
)
_choice = _merge(
    _maybe("index", st.integers(0, 3)),
    _maybe("delta", _delta),
    _maybe("finish_reason", st.none() | st.sampled_from(["stop", "length", "tool_calls"])),
    _maybe("logprobs", st.none() | st.dictionaries(_text, st.integers(), max_size=2)),
    _unknown,
)
_usage = _merge(
    _maybe("prompt_tokens", st.integers(0, 10**6)),
    _maybe("completion_tokens", st.integers(0, 10**6)),
    _maybe("total_tokens", st.integers(0, 10**6)),
    _maybe(
        "estimated_cost",
        st.none() | st.floats(min_value=0, max_value=10, allow_nan=False),
    ),
    _unknown,
)
_chunk = _merge(
    _maybe("id", _text),
    _maybe("object", st.just("chat.completion.chunk")),
    _maybe("created", st.integers(0, 2**40)),
    _maybe("model", _text),
    _maybe("choices", st.lists(_choice, max_size=3)),
    _maybe("usage", st.none() | _usage),
    _unknown,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_chunk)
def test_random_chunks_decode_equally_both_routes(d: dict[str, Any]) -> None:
    fast = ChatCompletionChunk.from_wire(d)
    assert fast == ChatCompletionChunk.from_dict(d)
    # The hand-tuned chunk decoder agrees with the one generated from the fields.
    generated = _decoder(ChatCompletionChunk).decode(d)
    assert generated == fast
    assert generated.extra == fast.extra
    assert [c.extra for c in generated.choices] == [c.extra for c in fast.choices]
    assert generated.to_dict() == fast.to_dict()
    assert ChatCompletionChunk.from_json(fast.to_json()) == fast
    assert ChatCompletionChunk.from_wire(fast.to_dict()) == fast


# ----------------------------------------------------------------- lazy import

_LAZY_CHECK = """
import sys
import deepinfra_sdk.types as t
heavy = [m for m in ("dataclasses_json", "marshmallow") if m in sys.modules]
assert not heavy, f"imported at module import: {heavy}"
chunk = t.ChatCompletionChunk.from_wire({"choices": [{"delta": {"content": "hi"}}]})
assert "dataclasses_json" not in sys.modules, "from_wire must not need dataclasses-json"
d = chunk.to_dict()
assert d["choices"][0]["delta"]["content"] == "hi", d
assert "dataclasses_json" not in sys.modules, "to_dict must not need dataclasses-json"
assert t.ChatCompletionChunk.from_dict(d) == chunk
assert "dataclasses_json" in sys.modules
assert t.Usage.from_json('{"total_tokens": 3, "new": 1}') == t.Usage(total_tokens=3)
print("ok")
"""


def test_dataclasses_json_is_imported_lazily() -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-W", "error", "-c", _LAZY_CHECK],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_schema_builds_without_warnings_and_excludes_unknown() -> None:
    # Warnings are errors in this suite, so merely building proves there were none.
    schema = ChatCompletionChunk.schema()
    loaded = schema.load({**json.loads(CHUNK_TOOL_CALLS), "brand_new": True})
    assert loaded == ChatCompletionChunk.from_wire(json.loads(CHUNK_TOOL_CALLS))
    for cls in (Model, ChatCompletion, EmbeddingResponse, ImageResponse):
        assert cls.schema() is not None


# ----------------------------------------------------------------- the generated decoder


@dataclass
class _Leaf(_JsonMixin):
    name: str
    size: int = 0


def _upper(value: str) -> str:
    return value.upper()


@dataclass
class _Tree(_JsonMixin):
    label: str = _wire_field(keys=("label", "title"), convert=_upper)
    leaves: List[_Leaf] = field(default_factory=list)
    by_name: Dict[str, _Leaf] = field(default_factory=dict)
    best: Optional[_Leaf] = None
    nested: List[List[_Leaf]] = field(default_factory=list)
    children: List[_Tree] = field(default_factory=list)
    count: int = _wire_field(0, compute=lambda d: len(d.get("leaves") or ()), keys=("leaves",))
    raw: Any = None


@dataclass(frozen=True)
class _Frozen(_JsonMixin):
    a: int = 1


@dataclass
class _SubLeaf(_Leaf):
    color: str = "red"


def test_generated_decoder_follows_the_annotations() -> None:
    wire = {
        "title": "root",
        "leaves": [{"name": "a", "size": 2}, {"name": "b", "size": None, "odd": 1}],
        "by_name": {"x": {"name": "x"}},
        "best": {"name": "c"},
        "nested": [[{"name": "n"}], []],
        "children": [{"label": "kid", "children": [{"label": "grandkid"}]}],
        "raw": {"anything": [1, 2]},
        "new_field": [3],
    }
    tree = _Tree.from_wire(wire)
    assert tree.label == "ROOT"  # alias, then the conversion
    assert tree.leaves == [_Leaf("a", 2), _Leaf("b", 0)]  # null takes the default
    assert tree.by_name == {"x": _Leaf("x")}
    assert tree.best == _Leaf("c")
    assert tree.nested == [[_Leaf("n")], []]
    assert tree.children[0].children[0].label == "GRANDKID"  # a class inside itself
    assert tree.count == 2
    assert tree.raw is wire["raw"]  # plain values are shared, not copied
    assert tree.extra == {"new_field": [3]}
    assert tree.leaves[1].extra == {"odd": 1}
    assert tree.to_dict()["new_field"] == [3]
    assert tree.to_dict()["leaves"][1] == {"name": "b", "size": 0, "odd": 1}
    assert json.loads(tree.to_json())["by_name"] == {"x": {"name": "x", "size": 0}}
    # Optional keys may be missing; a required one may not.
    assert _Tree.from_wire({"label": "x"}) == _Tree("X")
    with pytest.raises(APIResponseValidationError, match=r"_Leaf.*missing key 'name'"):
        _Tree.from_wire({"label": "x", "leaves": [{"size": 1}]})
    with pytest.raises(APIResponseValidationError, match="_Tree"):
        _Tree.from_wire({"label": "x", "by_name": [1]})
    with pytest.raises(APIResponseValidationError, match="_Tree"):
        _Tree.from_wire({"label": "x", "leaves": 5})
    with pytest.raises(APIResponseValidationError, match="_Tree"):
        _Tree.from_wire(["not", "a", "dict"])  # type: ignore[arg-type]


def test_generated_decoder_for_frozen_classes_and_subclasses() -> None:
    frozen = _Frozen.from_wire({"a": 2, "b": 3})
    assert frozen == _Frozen(2) and frozen.extra == {"b": 3}
    # A subclass gets its own decoder, from its own fields; the parent's stays as it was.
    assert _SubLeaf.from_wire({"name": "s", "color": "blue"}) == _SubLeaf("s", 0, "blue")
    assert _Leaf.from_wire({"name": "s", "color": "blue"}).extra == {"color": "blue"}
    assert _SubLeaf.from_wire({"name": "s", "color": "blue"}).extra == {}


def test_every_result_has_extra_and_request_id() -> None:
    assert Usage().extra == {} and Usage().request_id is None
    completion = ChatCompletion.from_wire(json.loads(CHAT_COMPLETION_TOOLS))
    assert completion.extra == {}
    message = completion.choices[0].message
    assert message.to_dict()["tool_calls"][0]["function"]["name"] == "get_weather"
    emb = EmbeddingResponse.from_wire({**json.loads(EMBEDDINGS), "id": "e-1"})
    assert emb.extra == {"id": "e-1"} and emb.to_dict()["id"] == "e-1"
    image = ImageResponse.from_wire({**json.loads(NATIVE_IMAGE), "has_nsfw": False})
    assert image.extra == {"has_nsfw": False}
    model = Model.from_wire(json.loads(TEXT_MODEL_ENTRY))
    assert model.extra == {"mmlu": 0.86}
    assert model.pricing is not None
    assert model.pricing.extra == {"cents_per_input_cached_token": 0.000001}
