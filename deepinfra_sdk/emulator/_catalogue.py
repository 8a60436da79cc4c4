"""The model catalogue the emulator serves: data, plus lookups the routes need.

:data:`CATALOGUE` is what ``GET /models/list`` returns (in order); ``GET /models/featured``
returns the entries named in :data:`FEATURED`. Every entry carries the required fields
(``model_name``, ``type``, ``reported_type``, ``pricing``) and the usual optional ones, with
prices in US cents per unit as at DeepInfra. Routes serve copies, so a test may read these
structures freely (and should not mutate them).

Like real listings it holds entries whose ``type`` and ``reported_type`` differ (a partner
image model typed ``custom``, a vision model, an embeddings model reported as
``sentence-similarity``), the types ``text-to-video``, ``text-to-speech`` and ``reranker``,
fields added over time (``mmlu``, ``expected``, ``is_partner``, ``create_ts``), and the
provider class's historical default models. With ``any_model`` (``--any-model``) a
well-formed ``owner/name`` outside the catalogue is served as a made-up entry of the type the
route needs (:func:`synthetic_model`).
"""

from __future__ import annotations

import copy
import re
from typing import Any, Dict, List, Optional

from ._errors import native_error, openai_error, validation_error

__all__ = [
    "CATALOGUE",
    "COG_STYLE",
    "CREATED",
    "EMBEDDING_DIMENSIONS",
    "FEATURED",
    "JSONLESS_MODELS",
    "MODEL_NAME_RE",
    "PARTNER_IMAGE_MODELS",
    "REASONING_MODELS",
    "TOOLLESS_MODELS",
    "all_models",
    "featured_models",
    "find_model",
    "native_model",
    "strip_version",
    "synthetic_model",
    "token_cost",
    "usable_model",
]

MODEL_NAME_RE = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*(:[\w.-]+)?$")

_COVER = "https://shared.deepinfra.com/models/{}/cover_image.jpg"


def _entry(
    name: str,
    type_: str,
    pricing: Dict[str, Any],
    description: str,
    *,
    tags: Optional[List[str]] = None,
    max_tokens: Optional[int] = None,
    quantization: Optional[str] = None,
    reported_type: Optional[str] = None,
    **extra: Any,
) -> Dict[str, Any]:
    return {
        "model_name": name,
        "type": type_,
        "reported_type": reported_type or type_,
        "description": description,
        "cover_img_url": _COVER.format(name),
        "tags": list(tags or []),
        "pricing": pricing,
        "max_tokens": max_tokens,
        "replaced_by": None,
        "deprecated": None,
        "quantization": quantization,
        "private": 0,
        **extra,
    }


def _tokens(cents_in: float, cents_out: float) -> Dict[str, Any]:
    return {
        "type": "tokens",
        "cents_per_input_token": cents_in,
        "cents_per_output_token": cents_out,
    }


def _image_units(cents: float, width: int, height: int) -> Dict[str, Any]:
    return {
        "type": "image_units",
        "cents_per_image_unit": cents,
        "default_width": width,
        "default_height": height,
        "default_iterations": 25,
    }


CATALOGUE: List[Dict[str, Any]] = [
    _entry(
        "meta-llama/Llama-3.3-70B-Instruct-Turbo",
        "text-generation",
        _tokens(0.0000130, 0.0000390),
        "Llama 3.3-70B Turbo is a highly optimized version of the Llama 3.3-70B model, "
        "utilizing FP8 quantization to deliver significantly faster inference speeds.",
        tags=["tool_calling", "json_mode"],
        max_tokens=131072,
        quantization="fp8",
    ),
    _entry(
        "meta-llama/Meta-Llama-3.1-8B-Instruct",
        "text-generation",
        _tokens(0.0000030, 0.0000050),
        "Meta developed and released the Meta Llama 3.1 family of large language models, "
        "a collection of pretrained and instruction tuned generative text models.",
        tags=["tool_calling", "json_mode"],
        max_tokens=131072,
        quantization="bfloat16",
    ),
    _entry(
        "Qwen/Qwen2.5-72B-Instruct",
        "text-generation",
        _tokens(0.0000120, 0.0000390),
        "Qwen2.5 is a model pretrained on a large-scale dataset of up to 18 trillion tokens, "
        "offering significant improvements in knowledge, coding, mathematics, and instruction "
        "following.",
        tags=["tool_calling", "json_mode"],
        max_tokens=32768,
        quantization="fp8",
    ),
    _entry(
        "deepseek-ai/DeepSeek-R1",
        "text-generation",
        _tokens(0.0000700, 0.0002400),
        "DeepSeek-R1 achieves performance comparable to OpenAI-o1 across math, code, and "
        "reasoning tasks; it thinks before it answers.",
        tags=["reasoning", "json_mode"],
        max_tokens=163840,
        quantization="fp8",
    ),
    _entry(
        "stabilityai/sd3.5",
        "text-to-image",
        _image_units(6.0, 1024, 1024),
        "Stable Diffusion 3.5 Large: a Multimodal Diffusion Transformer (MMDiT) text-to-image "
        "model with improved image quality, typography and prompt understanding.",
    ),
    _entry(
        "black-forest-labs/FLUX-1-schnell",
        "text-to-image",
        _image_units(0.05, 1024, 1024),
        "FLUX.1 [schnell] is a 12 billion parameter rectified flow transformer capable of "
        "generating images from text descriptions in 1 to 4 steps.",
    ),
    _entry(
        "stabilityai/sdxl-turbo",
        "text-to-image",
        _image_units(0.02, 512, 512),
        "SDXL-Turbo is a fast generative text-to-image model that can synthesize "
        "photorealistic images from a text prompt in a single network evaluation.",
    ),
    _entry(
        "stability-ai/sdxl",
        "text-to-image",
        {"type": "time", "cents_per_sec": 0.05},
        "SDXL consists of an ensemble of experts pipeline for latent diffusion "
        '(a Cog model: it takes {"input": {...}}).',
    ),
    # wire.md's real entry, verbatim.
    {
        "model_name": "runwayml/stable-diffusion-v1-5",
        "type": "text-to-image",
        "reported_type": "text-to-image",
        "description": "Most widely used version of Stable Diffusion. Trained on 512x512 images",
        "cover_img_url": (
            "https://shared.deepinfra.com/models/runwayml/stable-diffusion-v1-5/cover_image.jpg"
        ),
        "tags": [],
        "pricing": {"type": "time", "cents_per_sec": 0.05},
        "max_tokens": None,
        "replaced_by": "stabilityai/sdxl-turbo",
        "deprecated": 1727456682,
        "quantization": None,
        "private": 0,
    },
    _entry(
        "BAAI/bge-large-en-v1.5",
        "embeddings",
        {"type": "input_tokens", "cents_per_input_token": 0.0000010},
        "BGE (BAAI General Embedding) maps any text to a low-dimensional dense vector "
        "(1024 dimensions) for retrieval, classification and clustering.",
        max_tokens=512,
    ),
    _entry(
        "sentence-transformers/all-MiniLM-L6-v2",
        "embeddings",
        {"type": "input_tokens", "cents_per_input_token": 0.0000005},
        "A sentence-transformers model: it maps sentences and paragraphs to a 384 dimensional "
        "dense vector space.",
        max_tokens=256,
    ),
    _entry(
        "hexgrad/Kokoro-82M",
        "text-to-speech",
        {"type": "input_character_length", "cents_per_input_chars": 0.00008},
        "Kokoro is an open-weight text-to-speech model with 82 million parameters.",
    ),
    _entry(
        "openai/whisper-large-v3",
        "automatic-speech-recognition",
        {"type": "input_length", "cents_per_input_sec": 0.0075},
        "Whisper is a general-purpose speech recognition model trained on a large dataset "
        "of diverse audio.",
    ),
    # The provider class's default model in 2024-2025, and the model of the recorded
    # streams (real-traffic/chat_*_llama31_70b_*).
    _entry(
        "meta-llama/Meta-Llama-3.1-70B-Instruct",
        "text-generation",
        _tokens(0.0000230, 0.0000400),
        "Meta Llama 3.1 70B Instruct, the instruction tuned 70 billion parameter model of "
        "the Llama 3.1 family.",
        tags=["tool_calling", "json_mode"],
        max_tokens=131072,
        quantization="bfloat16",
        mmlu=83.6,
        expected=None,
        create_ts="2024-07-23T15:00:00+00:00",
    ),
    _entry(
        "deepseek-ai/DeepSeek-V3",
        "text-generation",
        _tokens(0.0000380, 0.0000890),
        "DeepSeek-V3, a Mixture-of-Experts language model with 671B total parameters of "
        "which 37B are activated for each token.",
        tags=["tool_calling", "json_mode"],
        max_tokens=163840,
        quantization="fp8",
        create_ts="2024-12-26T12:00:00+00:00",
    ),
    # A vision model: listed as text generation, reported as what it does.
    _entry(
        "meta-llama/Llama-3.2-11B-Vision-Instruct",
        "text-generation",
        _tokens(0.0000049, 0.0000049),
        "Llama 3.2 11B Vision, a multimodal model that reasons over images and text.",
        tags=["vision"],
        max_tokens=131072,
        quantization="bfloat16",
        reported_type="image-text-to-text",
    ),
    # The embeddings model of the recorded answer (real-traffic/embeddings_bge_base_*);
    # reported as sentence similarity, as some real listings do.
    _entry(
        "BAAI/bge-base-en-v1.5",
        "embeddings",
        {"type": "input_tokens", "cents_per_input_token": 0.0000005},
        "BGE base: 768 dimension English embeddings for retrieval and similarity.",
        max_tokens=512,
        reported_type="sentence-similarity",
    ),
    # A partner model: typed "custom", reported text-to-image, answering an image_url.
    _entry(
        "black-forest-labs/FLUX-1.1-pro",
        "custom",
        {
            "type": "image_units",
            "cents_per_image_unit": 4.0,
            "default_width": 1024,
            "default_height": 1024,
        },
        "FLUX1.1 [pro], Black Forest Labs' flagship model, served by the partner.",
        reported_type="text-to-image",
        is_partner=True,
    ),
    # A model without tool support: tools get the recorded 400
    # (real-traffic/err_400_tools_unsupported.json).
    _entry(
        "Sao10K/L3.1-70B-Euryale-v2.2",
        "text-generation",
        _tokens(0.0000650, 0.0000750),
        "Euryale 3.1 - 70B v2.2 is a model focused on creative roleplay from Sao10k.",
        max_tokens=131072,
        quantization="fp8",
    ),
    _entry(
        "Wan-AI/Wan2.1-T2V-1.3B",
        "text-to-video",
        {"type": "time", "cents_per_sec": 0.05},
        "Wan2.1 text-to-video, 1.3 billion parameters: 480p videos from a prompt.",
    ),
    _entry(
        "Qwen/Qwen3-Reranker-0.6B",
        "reranker",
        {"type": "input_tokens", "cents_per_input_token": 0.0000010},
        "Qwen3 Reranker scores how relevant each document is to a query.",
        max_tokens=32768,
    ),
    # Audio, reranking and classification models (native routes; see _audio, _rerank).
    _entry(
        "openai/whisper-large-v3-turbo",
        "automatic-speech-recognition",
        {"type": "input_length", "cents_per_input_sec": 0.0033},
        "Whisper large-v3 turbo: a pruned, faster Whisper for speech recognition.",
    ),
    _entry(
        "BAAI/bge-reranker-v2-m3",
        "reranker",
        {"type": "input_tokens", "cents_per_input_token": 0.0000010},
        "A multilingual reranker: scores how relevant each document is to a query.",
        max_tokens=8192,
    ),
    _entry(
        "distilbert/distilbert-base-uncased-finetuned-sst-2-english",
        "text-classification",
        {"type": "input_tokens", "cents_per_input_token": 0.0000005},
        "DistilBERT fine-tuned on SST-2: labels English text POSITIVE or NEGATIVE.",
        max_tokens=512,
    ),
]

FEATURED: List[str] = [
    "meta-llama/Llama-3.3-70B-Instruct-Turbo",
    "deepseek-ai/DeepSeek-R1",
    "Qwen/Qwen2.5-72B-Instruct",
    "stabilityai/sd3.5",
    "black-forest-labs/FLUX-1-schnell",
    "runwayml/stable-diffusion-v1-5",
    "BAAI/bge-large-en-v1.5",
    "black-forest-labs/FLUX-1.1-pro",
    "meta-llama/Llama-3.2-11B-Vision-Instruct",
    "hexgrad/Kokoro-82M",
    "Qwen/Qwen3-Reranker-0.6B",
]

# Models that take ``{"input": {...}}`` on the native route and answer ``{"output": [...]}``.
COG_STYLE = frozenset({"stability-ai/sdxl"})

# Text models that refuse ``tools`` with DeepInfra's 400.
TOOLLESS_MODELS = frozenset({"Sao10K/L3.1-70B-Euryale-v2.2"})
# Models without JSON output: json_object/json_schema answer 405 (wire.md).
JSONLESS_MODELS = frozenset({"Sao10K/L3.1-70B-Euryale-v2.2"})

# Partner image models: the native route answers ``{"image_url", "inference_status",
# "request_id", "status": "ok"}`` (wire.md, FLUX-1.1-pro).
PARTNER_IMAGE_MODELS = frozenset({"black-forest-labs/FLUX-1.1-pro"})

# ``created`` for ``/v1/openai/models``: fixed, so answers are reproducible.
CREATED = 1718000000

# Vector sizes of the embedding models.
EMBEDDING_DIMENSIONS = {
    "BAAI/bge-large-en-v1.5": 1024,
    "sentence-transformers/all-MiniLM-L6-v2": 384,
    "BAAI/bge-base-en-v1.5": 768,
}

# The model that thinks aloud (``reasoning_content`` deltas before the answer).
REASONING_MODELS = frozenset({"deepseek-ai/DeepSeek-R1"})


def token_cost(pricing: Optional[Dict[str, Any]], tokens_in: int, tokens_out: int = 0) -> float:
    """The USD cost of ``tokens_in`` input and ``tokens_out`` output tokens at a model's
    ``pricing`` (cents per token in the catalogue; 0 for a model not priced by the token)."""
    pricing = pricing or {}
    cents = tokens_in * float(pricing.get("cents_per_input_token", 0.0))
    cents += tokens_out * float(pricing.get("cents_per_output_token", 0.0))
    return round(cents / 100, 12)


def strip_version(name: str) -> str:
    """``owner/name`` without a ``:VERSION`` suffix."""
    return name.split(":", 1)[0]


def find_model(name: str) -> Optional[Dict[str, Any]]:
    """The catalogue entry for ``name`` (a ``:VERSION`` suffix is ignored), or None."""
    wanted = strip_version(name)
    for entry in CATALOGUE:
        if entry["model_name"] == wanted:
            return entry
    return None


def all_models() -> List[Dict[str, Any]]:
    """A copy of the whole catalogue (``GET /models/list``)."""
    return copy.deepcopy(CATALOGUE)


def featured_models() -> List[Dict[str, Any]]:
    """Copies of the featured entries, in :data:`FEATURED` order (``GET /models/featured``)."""
    return [copy.deepcopy(e) for name in FEATURED if (e := find_model(name)) is not None]


_DEPLOYMENT_RE = re.compile(r"deploy_id:[A-Za-z0-9_-]{1,128}")


def synthetic_model(name: str, type_: str) -> Dict[str, Any]:
    """A made-up entry serving ``name`` as a ``type_`` model (the ``any_model`` mode)."""
    pricing: Dict[str, Any] = {
        "text-generation": _tokens(0.0000100, 0.0000300),
        "embeddings": {"type": "input_tokens", "cents_per_input_token": 0.0000010},
        "text-to-image": _image_units(1.0, 1024, 1024),
    }.get(type_, {"type": "time", "cents_per_sec": 0.05})
    return _entry(
        strip_version(name),
        type_,
        pricing,
        "Not in the emulator's catalogue: served because any_model is on.",
        max_tokens=131072 if type_ == "text-generation" else None,
    )


def usable_model(
    name: Any, wanted_type: str, route: str, any_model: bool = False
) -> Dict[str, Any]:
    """The catalogue entry for ``name`` on an OpenAI-style route; an APIError if unusable.

    ``any_model``: a well-formed name outside the catalogue is served as a ``wanted_type``
    model.
    """
    if name is None:
        raise validation_error(["body", "model"])
    if not isinstance(name, str):
        raise validation_error(["body", "model"], "str type expected", "type_error.str")
    entry = find_model(name)
    if entry is None and any_model and MODEL_NAME_RE.match(name):
        return synthetic_model(name, wanted_type)
    if entry is None and _DEPLOYMENT_RE.fullmatch(name):
        # A custom deployment (documented as "deploy_id:<id>"): served as its type.
        return synthetic_model(name, wanted_type)
    if entry is None:
        raise openai_error(
            404, f"The model `{name}` does not exist", param="model", code="model_not_found"
        )
    if entry.get("deprecated"):
        hint = f"; use {entry['replaced_by']} instead" if entry.get("replaced_by") else ""
        raise openai_error(404, f"Model {entry['model_name']} is deprecated{hint}", param="model")
    if wanted_type not in (entry["type"], entry["reported_type"]):
        raise openai_error(
            400,
            f"Model {entry['model_name']} is a {entry['type']} model; "
            f"{route} needs a {wanted_type} model",
            param="model",
        )
    return entry


def _guess_type(body: Any) -> str:
    # What a native body asks of a model the catalogue does not know (any_model mode).
    if isinstance(body, dict):
        if "inputs" in body:
            return "embeddings"
        if isinstance(body.get("input"), str):
            return "text-generation"
        if "prompt" in body or isinstance(body.get("input"), dict):
            return "text-to-image"
    return "text-generation"


def native_model(name: str, body: Any, any_model: bool = False) -> Dict[str, Any]:
    """The entry ``POST /v1/inference/{name}`` serves; ``{"error": ...}`` 404s otherwise.

    ``any_model``: a well-formed name outside the catalogue is served as the kind of model
    its body asks for (``inputs``: embeddings, a string ``input``: text generation,
    ``prompt``: text-to-image).
    """
    if not MODEL_NAME_RE.match(name):
        raise native_error(404, f"Model {name!r} not found")
    entry = find_model(name)
    if entry is None and any_model:
        return synthetic_model(name, _guess_type(body))
    if entry is None:
        raise native_error(404, f"Model {name} not found")
    if entry.get("deprecated"):
        raise native_error(404, f"Model {entry['model_name']} is deprecated")
    return entry
