"""Every default the SDK uses, in one place.

Configuration is resolved as: explicit argument, then environment, then these values.
"""

from __future__ import annotations

DEFAULT_BASE_URL = "https://api.deepinfra.com"
OPENAI_PREFIX = "/v1/openai"
INFERENCE_PREFIX = "/v1/inference"

# Environment variables, in the order they are consulted.
API_KEY_ENV_VARS = ("DEEPINFRA_API_KEY", "DEEPINFRA_TOKEN", "DEEPINFRA_API_TOKEN")
BASE_URL_ENV_VAR = "DEEPINFRA_BASE_URL"

# Timeouts in seconds. The read timeout is also the longest gap allowed between two
# chunks of a stream; the total deadline (None: no limit) is enforced by the SDK itself.
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_READ_TIMEOUT = 600.0
DEFAULT_TOTAL_TIMEOUT = None
# service_tier="flex" may queue up to ten minutes before answering, then generate.
FLEX_READ_TIMEOUT = 900.0

# Retries: exponential backoff with full jitter, Retry-After honoured up to a cap.
DEFAULT_MAX_RETRIES = 2
RETRY_INITIAL_DELAY = 0.5
RETRY_MAX_DELAY = 8.0
# A Retry-After longer than this is not waited for: the error is raised at once.
RETRY_AFTER_CAP = 60.0

# Connection pool: sized for the async facade's worker threads (one connection each).
# A stream holds its thread and its connection while it waits for the next event, so
# this many concurrent streams progress at once; idle threads and sockets cost nothing.
DEFAULT_POOL_MAXSIZE = 256
# The async facade never runs fewer worker threads than this, whatever the pool size.
MIN_ASYNC_CONCURRENCY = 64

# The model list changes rarely; re-fetch it after this many seconds.
MODELS_CACHE_TTL = 600.0

# Streams: bytes asked of one socket read, and the largest single event accepted.
STREAM_READ_SIZE = 65536
MAX_EVENT_BYTES = 64 * 1024 * 1024
# An async stream's reader thread reads ahead of the consumer by at most this many characters
# of event data (then waits for the consumer to take them).
STREAM_READ_AHEAD_CHARS = 1 << 20
# The most body bytes one answer may bring: a non-stream answer, or a stream's whole body
# (which bounds the text it keeps). Real answers stay far below (a long streamed answer with
# logprobs is tens of MB); a broken or hostile server is stopped here. Client option
# max_response_bytes.
DEFAULT_MAX_RESPONSE_BYTES = 256 * 1024 * 1024
# An error body is read up to this many bytes; the rest is dropped (the error says so).
MAX_ERROR_BODY_BYTES = 64 * 1024
# After [DONE], how long and how much to read to reach the body's end (to pool the connection).
DRAIN_MAX_WAIT = 0.1
DRAIN_MAX_BYTES = 65536

DEFAULT_MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
DEFAULT_IMAGE_MODEL = "stabilityai/sd3.5"
DEFAULT_EMBEDDING_MODEL = "BAAI/bge-large-en-v1.5"
DEFAULT_TRANSCRIPTION_MODEL = "openai/whisper-large-v3"
DEFAULT_SPEECH_MODEL = "hexgrad/Kokoro-82M"
DEFAULT_RERANK_MODEL = "BAAI/bge-reranker-v2-m3"

# Cog/Replicate-style models take {"input": {...}} on the native inference route.
COG_STYLE_MODELS = frozenset({"stability-ai/sdxl"})

LOGGER_NAME = "deepinfra_sdk"

# DeepInfra's Batch API (wire.md "Files + Batches"): limits per file and per batch.
BATCH_MAX_LINES = 50_000
BATCH_MAX_INPUT_BYTES = 200 * 1024 * 1024
FILE_MAX_BYTES = 512 * 1024 * 1024
BATCH_METADATA_MAX_PAIRS = 16
BATCH_METADATA_KEY_CHARS = 64
BATCH_METADATA_VALUE_CHARS = 512
BATCH_ENDPOINTS = ("/v1/chat/completions", "/v1/completions", "/v1/embeddings")
# Batches take minutes to hours: asking every few seconds would only spend requests.
BATCH_POLL_INTERVAL = 10.0
# The runner's longest wait: the 24 h window and an hour to finalize. A batch still running
# after that never finishes (a server that says in_progress forever): stop polling it.
BATCH_WAIT_LIMIT = 25 * 3600.0
