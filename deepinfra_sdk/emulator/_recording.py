"""What the emulator remembers of each request: method, path, headers, body."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, Optional, Tuple

__all__ = ["Headers", "RecordedRequest", "redact"]

_SECRET_HEADERS = ("authorization", "proxy-authorization", "x-api-key")


class Headers(Dict[str, str]):
    """A dict of header values keyed by lower-case name; lookups ignore case too."""

    @classmethod
    def from_pairs(cls, pairs: Iterable[Tuple[str, str]]) -> Headers:
        """Headers from (name, value) pairs; repeated names are joined with ", "."""
        headers = cls()
        for name, value in pairs:
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        return headers

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return super().__contains__(key.lower() if isinstance(key, str) else key)

    def get(self, key: str, default: Optional[str] = None) -> Optional[str]:  # type: ignore[override]
        """The value of header ``key`` (any case), or ``default``."""
        return super().get(key.lower(), default)


def redact(name: str, value: str) -> str:
    """``value`` with any credential hidden (the scheme of an Authorization header stays)."""
    if name.lower() not in _SECRET_HEADERS:
        return value
    scheme, _, token = value.partition(" ")
    if token and scheme.lower() in ("bearer", "basic", "token"):
        return f"{scheme} [REDACTED]"
    return "[REDACTED]"


@dataclass
class RecordedRequest:
    """One request as received. ``json`` is the decoded body (None if absent or not JSON)."""

    method: str
    path: str
    headers: Headers = field(default_factory=Headers)
    json: Any = None
    body: bytes = b""
    form: Any = None
    """A multipart body's summary: ``{"fields": {...}, "files": {name: [{filename,
    content_type, size}]}}`` (its bytes are not kept; ``body`` is then empty)."""
    body_size: int = 0
    """The body's length in bytes. A body over ``RECORD_BODY_BYTES`` is kept as this
    length only: ``body`` is then empty and ``json`` None."""
