"""deepinfra_sdk: a fast, typed Python client for the DeepInfra inference API.

    from deepinfra_sdk import DeepInfraClient

    with DeepInfraClient() as client:            # key from DEEPINFRA_API_KEY
        with client.chat.completions.create(
            model="meta-llama/Llama-3.3-70B-Instruct-Turbo",
            messages=[{"role": "user", "content": "Hello"}],
            stream=True,
        ) as stream:
            for text in stream.iter_text():
                print(text, end="")

Importing the package loads neither ``requests`` nor ``anyio`` nor ``dataclasses_json``:
each is imported when first needed.
"""

from __future__ import annotations

import importlib as _importlib
import logging as _logging
from typing import TYPE_CHECKING, Any

from . import types
from ._bulk_types import (
    Batch,
    BatchErrorDetail,
    BatchErrors,
    BatchRequestCounts,
    BatchUsage,
    FileDeleted,
    FileObject,
)
from ._config import ClientConfig, Timeout
from ._constants import DEFAULT_IMAGE_MODEL, DEFAULT_MODEL
from ._exceptions import (
    APIConnectionError,
    APIError,
    APIResponseTooLargeError,
    APIResponseValidationError,
    APIStatusError,
    APIStreamError,
    APITimeoutError,
    ArgumentError,
    ArgumentTypeError,
    ArgumentValueError,
    AuthenticationError,
    BadRequestError,
    CapabilityError,
    DeepInfraError,
    InternalServerError,
    LengthFinishReasonError,
    LockedError,
    MissingAPIKeyError,
    NotFoundError,
    PaymentRequiredError,
    PermissionDeniedError,
    RateLimitError,
    ToolRoundsExceededError,
    UnprocessableEntityError,
    UploadError,
)
from ._pagination import Page
from ._parts import audio_part, image_part
from ._streaming import ChatStream
from ._tools import ToolRunResult, function_tool
from ._usage import UsageMeter, UsageSnapshot, UsageTotals
from ._version import __version__
from ._warnings import DeepInfraWarning
from .client import DeepInfraClient
from .resources import CompletionStream
from .resources.files import FileContent
from .types import (
    AudioResponse,
    ChatChoice,
    ChatCompletion,
    ChatCompletionChunk,
    ChatMessage,
    ChoiceDelta,
    ChoiceLogprobs,
    ChunkChoice,
    Completion,
    CompletionChoice,
    CompletionTokensDetails,
    Embedding,
    EmbeddingResponse,
    FunctionCall,
    ImageResponse,
    InferenceResult,
    InferenceStatus,
    Model,
    ModelSchema,
    OpenAIModel,
    Pricing,
    PromptTokensDetails,
    RerankResponse,
    RerankResult,
    TokenLogprob,
    ToolCall,
    TopLogprob,
    Transcription,
    TranscriptionSegment,
    TranscriptionWord,
    Usage,
)

if TYPE_CHECKING:
    from ._batch import (
        BatchCancelled,
        BatchError,
        BatchInterrupted,
        BatchItem,
        BatchProgress,
        BatchResult,
    )
    from ._bulk import BatchRequestError
    from .aio import AsyncChatStream, AsyncDeepInfraClient, AsyncFileContent, AsyncPage
    from .notebook import adisplay_stream, display_stream
    from .provider import DeepInfra

# The async facade and the provider class import anyio: load them on first use only (the
# notebook helpers too, which most programs never use).
_LAZY = {
    "AsyncChatStream": "aio",
    "AsyncFileContent": "aio",
    "AsyncPage": "aio",
    # The bulk runner loads sqlite3: only when it is used or named.
    "BatchRequestError": "_bulk",
    # The batch helper loads concurrent.futures: only when a batch is run or named.
    "BatchCancelled": "_batch",
    "BatchError": "_batch",
    "BatchInterrupted": "_batch",
    "BatchItem": "_batch",
    "BatchProgress": "_batch",
    "BatchResult": "_batch",
    "AsyncDeepInfraClient": "aio",
    "DeepInfra": "provider",
    "adisplay_stream": "notebook",
    "display_stream": "notebook",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'deepinfra_sdk' has no attribute {name!r}")
    value = getattr(_importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


# A library never configures logging for the application; it only stays quiet by default.
_logging.getLogger(__name__).addHandler(_logging.NullHandler())

__all__ = [
    "DEFAULT_IMAGE_MODEL",
    "DEFAULT_MODEL",
    "APIConnectionError",
    "APIError",
    "APIResponseTooLargeError",
    "APIResponseValidationError",
    "APIStatusError",
    "APIStreamError",
    "APITimeoutError",
    "ArgumentError",
    "ArgumentTypeError",
    "ArgumentValueError",
    "AsyncChatStream",
    "AsyncDeepInfraClient",
    "AsyncFileContent",
    "AsyncPage",
    "AudioResponse",
    "AuthenticationError",
    "BadRequestError",
    "Batch",
    "BatchCancelled",
    "BatchError",
    "BatchErrorDetail",
    "BatchErrors",
    "BatchInterrupted",
    "BatchItem",
    "BatchProgress",
    "BatchRequestCounts",
    "BatchRequestError",
    "BatchResult",
    "BatchUsage",
    "CapabilityError",
    "ChatChoice",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatMessage",
    "ChatStream",
    "ChoiceDelta",
    "ChoiceLogprobs",
    "ChunkChoice",
    "ClientConfig",
    "Completion",
    "CompletionChoice",
    "CompletionStream",
    "CompletionTokensDetails",
    "DeepInfra",
    "DeepInfraClient",
    "DeepInfraError",
    "DeepInfraWarning",
    "Embedding",
    "EmbeddingResponse",
    "FileContent",
    "FileDeleted",
    "FileObject",
    "FunctionCall",
    "ImageResponse",
    "InferenceResult",
    "InferenceStatus",
    "InternalServerError",
    "LengthFinishReasonError",
    "LockedError",
    "MissingAPIKeyError",
    "Model",
    "ModelSchema",
    "NotFoundError",
    "OpenAIModel",
    "Page",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "Pricing",
    "PromptTokensDetails",
    "RateLimitError",
    "RerankResponse",
    "RerankResult",
    "Timeout",
    "TokenLogprob",
    "ToolCall",
    "ToolRoundsExceededError",
    "ToolRunResult",
    "TopLogprob",
    "Transcription",
    "TranscriptionSegment",
    "TranscriptionWord",
    "UnprocessableEntityError",
    "UploadError",
    "Usage",
    "UsageMeter",
    "UsageSnapshot",
    "UsageTotals",
    "__version__",
    "adisplay_stream",
    "audio_part",
    "display_stream",
    "function_tool",
    "image_part",
    "types",
]
