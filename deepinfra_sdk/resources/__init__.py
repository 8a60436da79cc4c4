"""The client's resource groups: ``client.models``, ``.chat``, ``.images``, ``.embeddings``."""

from .chat import Chat, Completions
from .embeddings import Embeddings
from .images import Images
from .models import Models

__all__ = ["Chat", "Completions", "Embeddings", "Images", "Models"]
