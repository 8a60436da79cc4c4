"""Deterministic text without weights: words, sentences, token counts, JSON values.

Everything here is a pure function of its inputs (hash-seeded generators), so the same
conversation always gets the same answer, in every process.
"""

from __future__ import annotations

import hashlib
import random
import re
from typing import Any, List

__all__ = [
    "WORDS",
    "answer_tokens_for",
    "count_tokens",
    "message_text",
    "pieces",
    "seed_of",
]

WORDS = (
    "the", "model", "answer", "stream", "token", "light", "river", "stone", "quiet", "bright",
    "city", "garden", "window", "signal", "number", "simple", "clear", "moment", "paper",
    "engine", "forest", "music", "ocean", "small", "large", "early", "later", "yellow",
    "green", "blue", "friend", "letter", "planet", "system", "value", "result", "future",
    "history", "morning", "evening", "winter", "summer", "silver", "golden", "open", "close",
    "travel", "mountain", "valley", "station", "bridge", "island", "harbor", "market",
    "library", "kitchen", "picture", "story", "question", "reason", "pattern", "detail",
    "measure", "balance",
)  # fmt: skip

_TOKEN_RE = re.compile(r"\w+|[^\w\s]")


def count_tokens(text: str) -> int:
    """A rough token count: words and punctuation marks."""
    return len(_TOKEN_RE.findall(text))


def message_text(content: Any) -> str:
    """The text of a message's ``content``: a string, or the text parts of a list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [str(p.get("text", "")) for p in content if isinstance(p, dict) and "text" in p]
        return " ".join(parts)
    return ""


def seed_of(*parts: object) -> int:
    """A 64-bit seed from a hash of ``parts``: stable across runs and processes."""
    text = "\0".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def answer_tokens_for(seed: int, count: int, *, natural_end: bool) -> List[str]:
    """``count`` word tokens (leading space each) forming sentences, from ``seed``."""
    rng = random.Random(seed)
    words = rng.choices(WORDS, k=count)
    period = 6 + seed % 6
    tokens: List[str] = []
    capital = True
    for i, word in enumerate(words):
        token = " " + (word.capitalize() if capital else word)
        position = (i + 1) % period
        if position == 0:
            token += "."
        elif position == period // 2:
            token += ","
        capital = position == 0
        tokens.append(token)
    if natural_end and tokens and not tokens[-1].endswith("."):
        tokens[-1] = tokens[-1].rstrip(",") + "."
    return tokens


def pieces(text: str, size: int) -> List[str]:
    """``text`` cut into pieces of ``size`` characters (one empty piece for no text)."""
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]
