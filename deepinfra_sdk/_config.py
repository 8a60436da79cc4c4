"""Client configuration: timeouts and the resolution of argument, environment, default.

Kept free of ``requests`` so that ``import deepinfra_sdk`` stays cheap and pickled clients
carry plain data.
"""

from __future__ import annotations

import ipaddress
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Optional, Union
from urllib.parse import urlsplit

from . import _constants as C

__all__ = ["ClientConfig", "Timeout", "TimeoutTypes"]


@dataclass(frozen=True)
class Timeout:
    """Timeouts in phases, in seconds.

    Attributes:
        connect: how long to wait for the TCP (and TLS) connection.
        read: how long to wait for the response to start, and the longest gap allowed
            between two chunks of a stream.
        total: an optional deadline for a whole stream, enforced by the SDK itself
            (a read timeout alone never ends a stream that keeps trickling bytes).
            ``None`` means no deadline.
    """

    connect: float = C.DEFAULT_CONNECT_TIMEOUT
    read: float = C.DEFAULT_READ_TIMEOUT
    total: Optional[float] = C.DEFAULT_TOTAL_TIMEOUT

    def __post_init__(self) -> None:
        for name in ("connect", "read", "total"):
            value = getattr(self, name)
            if value is None and name == "total":
                continue
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise ValueError(
                    f"Timeout.{name} must be a positive number of seconds, got {value!r}"
                )


TimeoutTypes = Union[None, float, int, tuple[float, float], Timeout]


def coerce_timeout(value: TimeoutTypes) -> Timeout:
    """Accept ``None`` (defaults), one number (connect and read), a pair, or a Timeout."""
    if value is None:
        return Timeout()
    if isinstance(value, Timeout):
        return value
    if isinstance(value, tuple):
        if len(value) != 2:
            raise ValueError("timeout as a tuple must be (connect, read)")
        return Timeout(connect=float(value[0]), read=float(value[1]))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Timeout(connect=float(value), read=float(value))
    raise TypeError(
        f"timeout must be a number, a (connect, read) pair or deepinfra_sdk.Timeout, "
        f"not {type(value).__name__}"
    )


def is_loopback_url(url: str) -> bool:
    """True when the URL's host is a loopback name or address (127.0.0.0/8, ::1, localhost)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_key(key: str) -> str:
    # A key the HTTP layer cannot send would fail later with an error that quotes the
    # header value, i.e. the key itself: refuse it here, without echoing it.
    if not key:
        raise ValueError(
            "api_key is empty: pass the key, or None to read DEEPINFRA_API_KEY from the environment"
        )
    if not all("!" <= ch <= "~" for ch in key):
        raise ValueError(
            "the API key contains whitespace, control or non-ASCII characters (a stray "
            "newline from a file? a pasted quote?); DeepInfra keys are plain ASCII"
        )
    return key


def redact_url(url: str) -> str:
    """The URL without any ``user:password@`` part, for messages and reprs."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]).geturl()


def _check_base_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(
            f"base_url must be an absolute http(s) URL such as {C.DEFAULT_BASE_URL!r}, "
            f"got {redact_url(url)!r}"
        )
    if parts.query or parts.fragment:
        raise ValueError(f"base_url must not carry a query or fragment: {redact_url(url)!r}")
    return url.rstrip("/")


_warned_insecure: set[str] = set()


@dataclass(frozen=True)
class ClientConfig:
    """The resolved, immutable configuration of one client (plain data: picklable)."""

    api_key: Optional[str] = field(repr=False)
    base_url: str
    timeout: Timeout
    max_retries: int
    default_headers: Mapping[str, str]
    pool_maxsize: int
    proxy: Optional[str] = None

    @classmethod
    def resolve(
        cls,
        *,
        api_key: Optional[str] = None,
        base_url: Optional[str] = None,
        timeout: TimeoutTypes = None,
        max_retries: int = C.DEFAULT_MAX_RETRIES,
        default_headers: Optional[Mapping[str, str]] = None,
        pool_maxsize: int = C.DEFAULT_POOL_MAXSIZE,
        proxy: Optional[str] = None,
    ) -> ClientConfig:
        """Apply the order argument -> environment -> ``_constants`` and validate."""
        if api_key is None:
            api_key = next(
                (
                    os.environ[n].strip()
                    for n in C.API_KEY_ENV_VARS
                    if os.environ.get(n, "").strip()
                ),
                None,
            )
        elif not isinstance(api_key, str):
            raise TypeError(f"api_key must be a str, not {type(api_key).__name__}")
        if api_key is not None:
            api_key = _check_key(api_key)
        if base_url is None:
            base_url = os.environ.get(C.BASE_URL_ENV_VAR, "").strip() or C.DEFAULT_BASE_URL
        base_url = _check_base_url(base_url)
        if not isinstance(max_retries, int) or isinstance(max_retries, bool) or max_retries < 0:
            raise ValueError(f"max_retries must be a whole number >= 0, got {max_retries!r}")
        if not isinstance(pool_maxsize, int) or pool_maxsize < 1:
            raise ValueError(f"pool_maxsize must be a whole number >= 1, got {pool_maxsize!r}")
        headers = dict(default_headers or {})
        for name, value in headers.items():
            if any(ch in f"{name}{value}" for ch in "\r\n\0"):
                raise ValueError(f"header {name!r} contains CR, LF or NUL; remove them")
            try:
                f"{name}: {value}".encode("latin-1")
            except UnicodeEncodeError:
                raise ValueError(
                    f"header {name!r} has characters HTTP headers cannot carry (only "
                    "Latin-1); percent-encode or drop them"
                ) from None
        config = cls(
            api_key=api_key,
            base_url=base_url,
            timeout=coerce_timeout(timeout),
            max_retries=max_retries,
            default_headers=headers,
            pool_maxsize=pool_maxsize,
            proxy=proxy,
        )
        config._warn_if_insecure()
        return config

    @property
    def is_loopback(self) -> bool:
        """True when the base URL points at this machine (an emulator or a local proxy)."""
        return is_loopback_url(self.base_url)

    def _warn_if_insecure(self) -> None:
        # Plain http to another host would send the key in clear text: say so once per host.
        if self.api_key and self.base_url.startswith("http://") and not self.is_loopback:
            host = urlsplit(self.base_url).netloc
            if host not in _warned_insecure:
                _warned_insecure.add(host)
                warnings.warn(
                    f"base_url {redact_url(self.base_url)!r} uses plain http: the API key "
                    "would travel unencrypted; use https unless this host is on a trusted "
                    "network",
                    UserWarning,
                    stacklevel=4,
                )
