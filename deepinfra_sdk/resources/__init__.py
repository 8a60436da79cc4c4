"""The client's resource groups: ``client.models``, ``.chat``, ``.images``, ``.embeddings``,
``.files``, ``.batches``, ``.audio``, ``.rerank``, ``.inference``, ``.completions``."""

from .audio import Audio, Speech, Transcriptions, Translations
from .batches import Batches
from .chat import Chat, Completions
from .completions import CompletionStream, TextCompletions
from .embeddings import Embeddings
from .files import FileContent, Files
from .images import Images
from .inference import Inference
from .models import Models
from .rerank import Rerank

__all__ = [
    "Audio",
    "Batches",
    "Chat",
    "CompletionStream",
    "Completions",
    "Embeddings",
    "FileContent",
    "Files",
    "Images",
    "Inference",
    "Models",
    "Rerank",
    "Speech",
    "TextCompletions",
    "Transcriptions",
    "Translations",
]
