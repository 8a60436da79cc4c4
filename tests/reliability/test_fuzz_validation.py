"""Property tests: model names and header values that reach the wire cannot inject anything.

A model name becomes two URL path segments (``/v1/inference/{owner}/{name}``,
``/models/{owner}/{name}``). Whatever string a caller passes, either it is refused with an
error naming the fix, or the URL ``requests`` will send has exactly the prefix's segments
plus ``owner`` and ``name``: no extra ``/``, no ``?`` or ``#``, no dot segment, nothing that
decodes to something else.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from deepinfra_sdk import ClientConfig
from deepinfra_sdk._validation import (
    _MODEL_RE,
    MAX_MODEL_NAME_LENGTH,
    _json_size_at_least,
    check_model_name,
    check_request_size,
    model_path,
)

from ..conftest import TEST_KEY, examples

BASE = "https://api.deepinfra.com"
PREFIXES = ["/v1/inference", "/models"]

# Characters that matter to URLs, paths and parsers, and Unicode look-alikes of them.
_HOSTILE = list(
    "/\\?#%.:@;,=&+$!*'()[]{}<>|^`\"~ \t\r\n\x00\x0b\x0c\x7f"
    "\u2215\u2044\uff0f\u29f8"  # slashes: division, fraction, fullwidth, big solidus
    "\u2024\uff0e\u3002\u0660"  # dots: one-dot leader, fullwidth, ideographic, Arabic zero
    "\uff1f\uff03\ufe56\u2028\u2029\u0085\u00a0\u200b\ufeff"  # ? # look-alikes, breaks, BOM
    "\u0430\u0435\u043e\u0440\u0441\u0445\u0443"  # Cyrillic a e o p c x y
    "\u0131\u017f\u212a"  # dotless i, long s, Kelvin sign
    "\ud7ff\U0001f600"
)
_ALNUM = list("abcXYZ019_-")
_pieces = st.sampled_from(
    [*_HOSTILE, *_ALNUM, "..", "%2e", "%2E%2E", "%2F", "%2f", "%00", "%0d%0a", "../", "./", "//"]
)
hostile_names = st.one_of(
    st.lists(_pieces, max_size=24).map("".join),
    st.text(max_size=40),
    st.builds(
        lambda owner, name, sep: f"{owner}{sep}{name}",
        st.lists(_pieces, max_size=8).map("".join),
        st.lists(_pieces, max_size=8).map("".join),
        st.sampled_from(["/", "/../", "%2F", "\u2215", "/./"]),
    ),
)
_FIRST = "ABCXYZabcxyz0189_"
_MIDDLE = _FIRST + ".+-"
_LAST = _FIRST + "+-"
_segments = st.one_of(
    st.sampled_from(_FIRST),
    st.builds(
        lambda first, middle, last: first + middle + last,
        st.sampled_from(_FIRST),
        st.text(alphabet=_MIDDLE, max_size=12),
        st.sampled_from(_LAST),
    ),
)
# The documented form, built piece by piece (st.from_regex is far slower to draw from).
valid_names = st.builds(
    lambda owner, name, version: f"{owner}/{name}{version}",
    _segments,
    _segments,
    st.one_of(
        st.just(""), st.text(alphabet=_FIRST + ".-", min_size=1, max_size=6).map(":".__add__)
    ),
)


def _sent_url(prefix: str, name: str) -> str:
    """The URL exactly as requests would put it on the wire (after its own re-quoting)."""
    return str(requests.Request("GET", BASE + model_path(prefix, name)).prepare().url)


def _assert_exact_segments(prefix: str, name: str) -> None:
    owner, rest = name.split("/", 1)
    for url in (BASE + model_path(prefix, name), _sent_url(prefix, name)):
        parts = urlsplit(url)
        assert (parts.scheme, parts.netloc) == ("https", "api.deepinfra.com")
        assert parts.query == ""
        assert parts.fragment == ""
        assert "?" not in url
        assert "#" not in url
        segments = parts.path.split("/")
        assert segments == ["", *prefix.strip("/").split("/"), owner, rest]
        # Decoding a segment gives back the caller's text: no %2F or %2E surprises.
        assert [unquote(s) for s in segments[-2:]] == [owner, rest]
        assert all(s not in (".", "..") for s in segments)
        assert "%" not in url  # nothing needed quoting, so nothing can decode differently


@settings(max_examples=examples(150))
@given(hostile_names, st.sampled_from(PREFIXES))
def test_any_string_is_refused_with_the_fix_or_gives_exactly_two_segments(
    name: str, prefix: str
) -> None:
    try:
        checked = check_model_name(name)
    except ValueError as exc:
        message = str(exc)
        assert "owner/name" in message or "limit" in message
        assert "meta-llama/Llama-3.3-70B-Instruct-Turbo" in message  # an example to copy
        with pytest.raises(ValueError):
            model_path(prefix, name)
        return
    assert checked == name
    _assert_exact_segments(prefix, name)


@settings(max_examples=examples(100))
@given(valid_names, st.sampled_from(PREFIXES))
def test_every_name_of_the_documented_form_round_trips_through_the_url(
    name: str, prefix: str
) -> None:
    assert _MODEL_RE.fullmatch(name)
    if ".." in name:
        with pytest.raises(ValueError, match="'\\.\\.'"):
            check_model_name(name)
        return
    assert check_model_name(name) == name
    _assert_exact_segments(prefix, name)
    # quote() with the same safe set is the identity: the path is the name, as typed.
    owner, rest = name.split("/", 1)
    assert (
        model_path(prefix, name) == f"{prefix}/{quote(owner, safe=':+')}/{quote(rest, safe=':+')}"
    )
    assert model_path(prefix, name) == f"{prefix}/{name}"


@settings(max_examples=examples(50))
@given(st.one_of(st.none(), st.integers(), st.binary(), st.lists(st.text(max_size=3))))
def test_a_model_that_is_not_a_string_is_a_type_error_naming_the_form(model: object) -> None:
    with pytest.raises(TypeError, match="owner/name"):
        check_model_name(model)


@settings(max_examples=examples(50))
@given(st.integers(MAX_MODEL_NAME_LENGTH + 1, 50_000))
def test_overlong_names_name_their_length_and_the_limit(length: int) -> None:
    name = "o/" + "n" * (length - 2)
    with pytest.raises(ValueError) as info:
        check_model_name(name)
    message = str(info.value)
    assert f"{length} characters" in message
    assert str(MAX_MODEL_NAME_LENGTH) in message
    assert len(message) < 400  # the name itself is not echoed in full


_breaking = st.sampled_from(["\r", "\n", "\r\n", "\x00"])


@settings(max_examples=examples(100))
@given(st.text(max_size=20), _breaking, st.text(max_size=20), st.booleans())
def test_header_names_and_values_with_cr_lf_or_nul_are_refused(
    before: str, breaker: str, after: str, in_name: bool
) -> None:
    bad = before + breaker + after
    headers = {bad: "v"} if in_name else {"X-Custom": bad}
    with pytest.raises((ValueError, TypeError)) as info:
        ClientConfig.resolve(default_headers=headers)
    assert "CR, LF or NUL" in str(info.value)


@settings(max_examples=examples(100))
@given(st.text(max_size=30), _breaking, st.text(max_size=30))
def test_keys_with_cr_lf_or_nul_are_refused_without_being_echoed(
    before: str, breaker: str, after: str
) -> None:
    key = before + TEST_KEY + breaker + after
    with pytest.raises(ValueError) as info:
        ClientConfig.resolve(api_key=key)
    assert TEST_KEY not in str(info.value)
    assert TEST_KEY[-12:] not in str(info.value)
    assert "newline" in str(info.value) or "empty" in str(info.value)


@settings(max_examples=examples(100))
@given(
    st.text(
        alphabet=st.characters(codec="latin-1", exclude_characters="\r\n\x00"), max_size=30
    ).filter(lambda v: v == v.strip())
)
def test_every_latin1_value_without_breaks_is_accepted_and_kept_as_given(value: str) -> None:
    config = ClientConfig.resolve(default_headers={"X-Custom": value})
    assert config.default_headers == {"X-Custom": value}
    # requests accepts what we accepted: no failure deferred to send time.
    prepared = requests.Request("GET", BASE, headers=dict(config.default_headers)).prepare()
    assert prepared.headers["X-Custom"] == value


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=30,
)
_text_only = st.recursive(
    st.text(alphabet="abc xyz", max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(alphabet="abc", max_size=5), inner, max_size=4)
    ),
    max_leaves=30,
)


def _encoded_size(value: Any) -> int:
    # What the transport sends: compact separators, UTF-8, no ASCII escaping.
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


@settings(max_examples=examples(100))
@given(_json_values)
def test_the_request_size_is_never_overestimated(value: Any) -> None:
    # A lower bound: a body under the limit is never refused.
    size = _encoded_size(value)
    assert _json_size_at_least(value, 10**12) <= size
    check_request_size(value, limit=size)


@settings(max_examples=examples(100))
@given(_text_only)
def test_the_request_size_is_exact_for_plain_text_structures(value: Any) -> None:
    # Strings, lists and dicts of plain ASCII text: the count is the encoded size, so the
    # limit is met exactly; one byte less is refused, naming both numbers.
    size = _encoded_size(value)
    assert _json_size_at_least(value, 10**12) == size
    check_request_size(value, limit=size)
    with pytest.raises(ValueError) as info:
        check_request_size(value, limit=size - 1)
    assert f"{size - 1:,} bytes" in str(info.value)
