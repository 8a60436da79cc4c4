"""Client configuration: timeouts and the resolution of argument, environment, default.

Kept free of ``requests`` so that ``import deepinfra_sdk`` stays cheap and pickled clients
carry plain data.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Optional, Union
from urllib.parse import unquote, urlsplit

from . import _constants as C
from ._exceptions import ArgumentTypeError, ArgumentValueError
from ._warnings import warn

__all__ = ["ALLOW_INSECURE_ENV_VAR", "ClientConfig", "Timeout", "TimeoutTypes"]

#: Set to 1 to allow sending the key over plain http to a host that is not loopback (for
#: entry points with no ``allow_insecure`` argument: the CLI, the provider class).
ALLOW_INSECURE_ENV_VAR = "DEEPINFRA_ALLOW_INSECURE_HTTP"
_TRUTHY = frozenset({"1", "true", "yes", "on"})
# What an OpenAI-style base URL ends with; the SDK's base URL is the API root before them.
_API_SUFFIXES = ("/v1/openai", "/v1")
# RFC 9110 field names are tokens; anything else (':', spaces, controls) would break framing.
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# Header values whose content is a credential: shown as [redacted] in reprs.
_SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "api-key", "cookie"}
)


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
                raise ArgumentValueError(
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
            raise ArgumentValueError("timeout as a tuple must be (connect, read)")
        return Timeout(connect=float(value[0]), read=float(value[1]))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Timeout(connect=float(value), read=float(value))
    raise ArgumentTypeError(
        f"timeout must be a number, a (connect, read) pair or deepinfra_sdk.Timeout, "
        f"not {type(value).__name__}"
    )


def is_loopback_url(url: str) -> bool:
    """True when the URL's host is a loopback name or address (127.0.0.0/8, ::1, localhost)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is loopback too
    return address.is_loopback


def _check_key(key: str) -> str:
    # A key the HTTP layer cannot send would fail later with an error that quotes the
    # header value, i.e. the key itself: refuse it here, without echoing it.
    if not key:
        raise ArgumentValueError(
            "api_key is empty: pass the key, or None to read DEEPINFRA_API_KEY from the environment"
        )
    if not all("!" <= ch <= "~" for ch in key):
        raise ArgumentValueError(
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


def _check_base_url(url: str) -> tuple[str, Optional[tuple[str, str]]]:
    """The base URL without ``user:password@``, and those credentials (or None).

    The credentials leave the URL here, once: no URL the transport builds, sends, logs or
    quotes in an error (requests and urllib3 quote URLs they cannot use) can hold them.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ArgumentValueError(
            f"base_url must be an absolute http(s) URL such as {C.DEFAULT_BASE_URL!r}, "
            f"got {redact_url(url)!r}"
        )
    if parts.query or parts.fragment:
        raise ArgumentValueError(
            f"base_url must not carry a query or fragment: {redact_url(url)!r}"
        )
    credentials = None
    if "@" in parts.netloc:
        userinfo, host = parts.netloc.rsplit("@", 1)
        user, _, password = userinfo.partition(":")
        credentials = (unquote(user), unquote(password))
        url = parts._replace(netloc=host).geturl()
    url = url.rstrip("/")
    for suffix in _API_SUFFIXES:
        if url.endswith(suffix):
            # The OpenAI habit: every path the SDK sends starts with these, so the requests
            # would 404 ("Not Found", "the model `featured` does not exist"). Corrected.
            root = url[: -len(suffix)]
            warn(
                f"base_url {redact_url(url)!r} ends with {suffix!r}, but the SDK adds the API "
                f"paths itself: using the API root {redact_url(root)!r} (pass that as "
                "base_url, or set DEEPINFRA_BASE_URL to it, to silence this warning)"
            )
            return root, credentials
    return url, credentials


def _check_headers(default_headers: Optional[Mapping[str, str]]) -> dict[str, str]:
    # Checked here, with an error naming the header, rather than by requests at send time
    # (whose message quotes the value, which may be a credential).
    headers = dict(default_headers or {})
    for name, value in headers.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise ArgumentTypeError(
                f"default_headers must map str to str; header {name!r} has a "
                f"{type(value).__name__} value: convert it with str()"
            )
        if any(ch in f"{name}{value}" for ch in "\r\n\0"):
            raise ArgumentValueError(f"header {name[:60]!r} contains CR, LF or NUL; remove them")
        if not _HEADER_NAME.fullmatch(name):
            raise ArgumentValueError(
                f"header name {name[:60]!r} is not a valid HTTP field name: use letters, "
                "digits and '-' (no spaces or ':')"
            )
        if value[:1].isspace() or value[-1:].isspace():
            raise ArgumentValueError(
                f"header {name!r} has leading or trailing whitespace in its value; strip it"
            )
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            raise ArgumentValueError(
                f"header {name!r} has characters HTTP headers cannot carry (only "
                "Latin-1); percent-encode or drop them"
            ) from None
    return headers


def _insecure_allowed(allow_insecure: bool) -> bool:
    if allow_insecure:
        return True
    return os.environ.get(ALLOW_INSECURE_ENV_VAR, "").strip().lower() in _TRUTHY


@dataclass(frozen=True)
class ClientConfig:
    """The resolved, immutable configuration of one client (plain data: picklable).

    Its repr shows no secret: not the key, not a password in the base URL or the proxy,
    not the value of a credential header.
    """

    api_key: Optional[str] = field(repr=False)
    base_url: str
    timeout: Timeout
    max_retries: int
    default_headers: Mapping[str, str]
    pool_maxsize: int
    proxy: Optional[str] = None
    max_response_bytes: int = C.DEFAULT_MAX_RESPONSE_BYTES
    # ``user:password`` taken out of the base URL (sent as HTTP Basic auth when no key is).
    base_auth: Optional[tuple[str, str]] = field(default=None, repr=False)

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
        allow_insecure: bool = False,
        max_response_bytes: int = C.DEFAULT_MAX_RESPONSE_BYTES,
    ) -> ClientConfig:
        """Apply the order argument -> environment -> ``_constants`` and validate.

        Raises:
            ValueError: a setting is invalid, or the key would be sent over plain http to
                a host that is not loopback without ``allow_insecure=True`` (or
                ``DEEPINFRA_ALLOW_INSECURE_HTTP=1``).
        """
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
            raise ArgumentTypeError(f"api_key must be a str, not {type(api_key).__name__}")
        if api_key is not None:
            api_key = _check_key(api_key)
        if base_url is None:
            base_url = os.environ.get(C.BASE_URL_ENV_VAR, "").strip() or C.DEFAULT_BASE_URL
        base_url, base_auth = _check_base_url(base_url)
        if not isinstance(max_retries, int) or isinstance(max_retries, bool) or max_retries < 0:
            raise ArgumentValueError(
                f"max_retries must be a whole number >= 0, got {max_retries!r}"
            )
        if not isinstance(pool_maxsize, int) or pool_maxsize < 1:
            raise ArgumentValueError(
                f"pool_maxsize must be a whole number >= 1, got {pool_maxsize!r}"
            )
        if (
            not isinstance(max_response_bytes, int)
            or isinstance(max_response_bytes, bool)
            or max_response_bytes < 1
        ):
            raise ArgumentValueError(
                f"max_response_bytes must be a whole number of bytes >= 1, got "
                f"{max_response_bytes!r} (the default is {C.DEFAULT_MAX_RESPONSE_BYTES:,})"
            )
        headers = _check_headers(default_headers)
        if proxy is not None and not isinstance(proxy, str):
            raise ArgumentTypeError(f"proxy must be a URL string, not {type(proxy).__name__}")
        config = cls(
            api_key=api_key,
            base_url=base_url,
            timeout=coerce_timeout(timeout),
            max_retries=max_retries,
            default_headers=headers,
            pool_maxsize=pool_maxsize,
            proxy=proxy,
            max_response_bytes=max_response_bytes,
            base_auth=base_auth,
        )
        if not _insecure_allowed(allow_insecure):
            config._refuse_if_insecure()
        return config

    @property
    def is_loopback(self) -> bool:
        """True when the base URL points at this machine (an emulator or a local proxy)."""
        return is_loopback_url(self.base_url)

    def _refuse_if_insecure(self) -> None:
        # Plain http to another host would send the key in clear text to anyone on the path:
        # refuse, rather than warn once after the first request has already exposed it.
        scheme = urlsplit(self.base_url).scheme
        if self.api_key and scheme == "http" and not self.is_loopback:
            raise ArgumentValueError(
                f"base_url {redact_url(self.base_url)!r} uses plain http to a host that is not "
                "this machine: the API key would travel unencrypted. Use https://, or, if "
                "the network is trusted (a gateway in the same cluster), pass "
                f"allow_insecure=True or set {ALLOW_INSECURE_ENV_VAR}=1"
            )

    def __repr__(self) -> str:
        headers = {
            name: "[redacted]" if name.lower() in _SECRET_HEADERS else value
            for name, value in self.default_headers.items()
        }
        proxy = None if self.proxy is None else redact_url(self.proxy)
        return (
            f"ClientConfig(api_key={'[set]' if self.api_key else None}, "
            f"base_url={redact_url(self.base_url)!r}, timeout={self.timeout!r}, "
            f"max_retries={self.max_retries!r}, default_headers={headers!r}, "
            f"pool_maxsize={self.pool_maxsize!r}, proxy={proxy!r}, "
            f"max_response_bytes={self.max_response_bytes!r}, "
            f"base_auth={'[set]' if self.base_auth else None})"
        )
