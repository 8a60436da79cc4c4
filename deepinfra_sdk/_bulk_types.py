"""Typed results of the files and batches routes (in DeepInfra's shapes; docs/bulk-work.md).

Each is a dataclass whose ``from_wire`` is generated from its annotations by the shared
mechanism in :mod:`deepinfra_sdk.types`; fields the server adds stay in ``.extra``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

from .types import _JsonMixin

__all__ = [
    "Batch",
    "BatchErrorDetail",
    "BatchErrors",
    "BatchRequestCounts",
    "BatchUsage",
    "FileDeleted",
    "FileObject",
]

# A batch in one of these states changes no more.
TERMINAL_STATUSES = frozenset({"completed", "failed", "expired", "cancelled"})


@dataclass
class FileObject(_JsonMixin):
    """A file held by DeepInfra: a batch's input (``purpose="batch"``) or one of its
    results (``purpose="batch-output"``)."""

    id: str
    object: str = "file"
    bytes: int = 0
    created_at: int = 0
    expires_at: Optional[int] = None
    filename: str = ""
    purpose: str = ""


@dataclass
class FileDeleted(_JsonMixin):
    """The answer to ``files.delete()``: ``deleted`` says whether the file is gone."""

    id: str
    deleted: bool = False
    object: str = "file"


@dataclass
class BatchRequestCounts(_JsonMixin):
    """How many of a batch's requests there are, and how many finished or failed."""

    total: int = 0
    completed: int = 0
    failed: int = 0


@dataclass
class BatchErrorDetail(_JsonMixin):
    """Why a batch failed validation: ``line`` is the input line (1-based) at fault."""

    code: Optional[str] = None
    line: Optional[int] = None
    message: Optional[str] = None
    param: Optional[str] = None


@dataclass
class BatchErrors(_JsonMixin):
    """The validation errors of a failed batch."""

    object: str = "list"
    data: List[BatchErrorDetail] = field(default_factory=list)


@dataclass
class BatchUsage(_JsonMixin):
    """Tokens a batch used (billed 20 % below real-time prices)."""

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0


@dataclass
class Batch(_JsonMixin):
    """A batch: ``status`` moves ``validating`` -> ``in_progress`` -> ``finalizing`` ->
    ``completed`` (or ``failed``, ``expired``, ``cancelling`` -> ``cancelled``).

    Timestamps are unix seconds, ``None`` until reached. ``request_counts`` is ``None``
    until the server has counted the requests. Results are in the files
    ``output_file_id`` (answers) and ``error_file_id`` (failed requests).
    """

    id: str
    object: str = "batch"
    endpoint: str = ""
    errors: Optional[BatchErrors] = None
    input_file_id: str = ""
    completion_window: str = "24h"
    status: str = ""
    output_file_id: Optional[str] = None
    error_file_id: Optional[str] = None
    created_at: int = 0
    in_progress_at: Optional[int] = None
    expires_at: Optional[int] = None
    finalizing_at: Optional[int] = None
    completed_at: Optional[int] = None
    failed_at: Optional[int] = None
    expired_at: Optional[int] = None
    cancelling_at: Optional[int] = None
    cancelled_at: Optional[int] = None
    request_counts: Optional[BatchRequestCounts] = None
    metadata: Optional[Dict[str, str]] = None
    model: Optional[str] = None
    usage: Optional[BatchUsage] = None

    @property
    def done(self) -> bool:
        """Whether the batch has reached a final status (its files will not change)."""
        return self.status in TERMINAL_STATUSES
