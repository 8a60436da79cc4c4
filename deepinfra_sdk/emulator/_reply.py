"""What a route answers: a JSON (or text) body, or a stream of SSE payloads."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable, List, Optional, Tuple

from ._errors import APIError

__all__ = ["Reply"]


@dataclass
class Reply:
    """A route's answer, before faults and framing are applied.

    When ``events`` is set the answer is an event stream and each item is one ``data:``
    payload (the last normally ``[DONE]``), possibly produced lazily; otherwise
    ``payload`` is JSON-encoded, or ``text`` (or the bytes ``data``) is sent as is.
    """

    status: int = 200
    payload: Any = None
    text: Optional[str] = None
    content_type: str = "application/json"
    headers: List[Tuple[str, str]] = field(default_factory=list)
    events: Optional[Iterable[str]] = None
    data: Optional[bytes] = None  # a binary body (audio), sent as is

    @classmethod
    def from_error(cls, error: APIError) -> Reply:
        """The reply that carries ``error``."""
        return cls(
            status=error.status,
            payload=error.payload,
            text=error.text,
            content_type=error.content_type,
            headers=list(error.headers),
        )

    def body(self) -> bytes:
        """The encoded body of a non-stream reply."""
        if self.data is not None:
            return self.data
        if self.text is not None:
            return self.text.encode("utf-8")
        return json.dumps(self.payload, separators=(",", ":")).encode("utf-8")
