"""The client's resource groups: ``client.models``, ``.chat``, ``.images``, ``.embeddings``,
``.files``, ``.batches``."""

from .batches import Batches
from .chat import Chat, Completions
from .embeddings import Embeddings
from .files import FileContent, Files
from .images import Images
from .models import Models

__all__ = [
    "Batches",
    "Chat",
    "Completions",
    "Embeddings",
    "FileContent",
    "Files",
    "Images",
    "Models",
]
