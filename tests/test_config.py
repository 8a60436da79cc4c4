"""Configuration: argument, then environment, then defaults; validation of each value."""

from __future__ import annotations

import warnings

import pytest

from deepinfra_sdk import ClientConfig, DeepInfraWarning, Timeout
from deepinfra_sdk._config import coerce_timeout, is_loopback_url

from .conftest import TEST_KEY


def test_defaults() -> None:
    config = ClientConfig.resolve()
    assert config.api_key is None
    assert config.base_url == "https://api.deepinfra.com"
    assert config.timeout == Timeout()
    assert config.timeout.connect > 0 and config.timeout.read > 0  # finite defaults
    assert config.max_retries == 2


@pytest.mark.parametrize("name", ["DEEPINFRA_API_KEY", "DEEPINFRA_TOKEN", "DEEPINFRA_API_TOKEN"])
def test_each_key_variable_is_read(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv(name, TEST_KEY)
    assert ClientConfig.resolve().api_key == TEST_KEY


def test_key_variables_are_consulted_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEEPINFRA_API_TOKEN", "third")
    monkeypatch.setenv("DEEPINFRA_TOKEN", "second")
    assert ClientConfig.resolve().api_key == "second"
    monkeypatch.setenv("DEEPINFRA_API_KEY", "first")
    assert ClientConfig.resolve().api_key == "first"
    assert ClientConfig.resolve(api_key="arg").api_key == "arg"


def test_env_key_is_stripped_and_blank_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEEPINFRA_API_KEY", "  \n")
    monkeypatch.setenv("DEEPINFRA_TOKEN", f"{TEST_KEY}\n")
    assert ClientConfig.resolve().api_key == TEST_KEY


def test_base_url_from_env_and_argument(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEEPINFRA_BASE_URL", "http://127.0.0.1:8000/")
    assert ClientConfig.resolve().base_url == "http://127.0.0.1:8000"
    assert (
        ClientConfig.resolve(base_url="https://proxy.example/di").base_url
        == "https://proxy.example/di"
    )


@pytest.mark.parametrize(
    "url", ["api.deepinfra.com", "ftp://x", "https://x/?a=1", "https://x/#f", ""]
)
def test_bad_base_url_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="base_url"):
        ClientConfig.resolve(base_url=url)


def test_key_with_newline_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValueError) as info:
        ClientConfig.resolve(api_key=f"{TEST_KEY}\r\nX-Evil: 1")
    assert TEST_KEY not in str(info.value)
    assert "whitespace" in str(info.value)


@pytest.mark.parametrize("key", ["sk-ключ", "sk\u00a0x", "sk x", "“sk-x”"])
def test_keys_http_cannot_carry_are_refused_without_echoing_them(key: str) -> None:
    with pytest.raises(ValueError, match="ASCII") as info:
        ClientConfig.resolve(api_key=key)
    assert key not in str(info.value)


def test_an_empty_key_gets_its_own_message() -> None:
    with pytest.raises(ValueError, match="empty"):
        ClientConfig.resolve(api_key="")


def test_non_latin1_header_values_are_refused() -> None:
    with pytest.raises(ValueError, match="Latin-1"):
        ClientConfig.resolve(default_headers={"X-Team": "команда"})


def test_credentials_in_the_base_url_are_redacted() -> None:
    from deepinfra_sdk import DeepInfraClient

    client = DeepInfraClient(base_url="https://user:hunter2@proxy.example")
    assert "hunter2" not in repr(client)
    with pytest.raises(ValueError) as info:
        ClientConfig.resolve(base_url="https://user:hunter2@proxy.example/?q=1")
    assert "hunter2" not in str(info.value)


def test_header_injection_is_refused() -> None:
    with pytest.raises(ValueError, match="CR, LF"):
        ClientConfig.resolve(default_headers={"X-A": "1\r\nX-B: 2"})


@pytest.mark.parametrize("bad", [-1, 1.5, True])
def test_bad_max_retries(bad: object) -> None:
    with pytest.raises(ValueError, match="max_retries"):
        ClientConfig.resolve(max_retries=bad)  # type: ignore[arg-type]


def test_timeouts() -> None:
    assert coerce_timeout(5) == Timeout(connect=5, read=5)
    assert coerce_timeout((1, 2)) == Timeout(connect=1, read=2)
    t = Timeout(connect=1, read=2, total=30)
    assert coerce_timeout(t) is t
    with pytest.raises(ValueError, match="positive"):
        Timeout(read=0)
    with pytest.raises(TypeError, match="timeout must be"):
        coerce_timeout("5")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="connect, read"):
        coerce_timeout((1, 2, 3))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8000", True),
        ("http://127.8.9.1", True),
        ("http://localhost:1", True),
        ("http://[::1]:80", True),
        ("https://api.deepinfra.com", False),
        ("http://10.0.0.1", False),
    ],
)
def test_loopback_detection(url: str, expected: bool) -> None:
    assert is_loopback_url(url) is expected


def test_repr_hides_the_key() -> None:
    config = ClientConfig.resolve(api_key=TEST_KEY)
    assert TEST_KEY not in repr(config)
    assert TEST_KEY not in str(config)


@pytest.mark.parametrize(
    "url", ["http://insecure.example", "HTTP://insecure.example:8080", "http://10.0.0.1"]
)
def test_plain_http_to_a_remote_host_is_refused_without_echoing_the_key(url: str) -> None:
    with pytest.raises(ValueError, match="unencrypted") as info:
        ClientConfig.resolve(api_key=TEST_KEY, base_url=url)
    message = str(info.value)
    assert TEST_KEY not in message
    assert "allow_insecure=True" in message  # the fix, both ways
    assert "DEEPINFRA_ALLOW_INSECURE_HTTP=1" in message
    assert "https://" in message


def test_plain_http_is_allowed_by_argument_or_environment_silently(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # consent given: no warning either
        config = ClientConfig.resolve(
            api_key=TEST_KEY, base_url="http://gateway.internal", allow_insecure=True
        )
        assert config.base_url == "http://gateway.internal"
        for value in ("1", "true", "YES", " on "):
            monkeypatch.setenv("DEEPINFRA_ALLOW_INSECURE_HTTP", value)
            ClientConfig.resolve(api_key=TEST_KEY, base_url="http://gateway.internal")
    for value in ("0", "false", ""):
        monkeypatch.setenv("DEEPINFRA_ALLOW_INSECURE_HTTP", value)
        with pytest.raises(ValueError, match="unencrypted"):
            ClientConfig.resolve(api_key=TEST_KEY, base_url="http://gateway.internal")


@pytest.mark.parametrize(
    "url",
    [
        "https://api.deepinfra.com",
        "https://10.0.0.1:8443",
        "http://127.0.0.1:1",
        "http://127.8.9.1",
        "http://localhost:8000",
        "http://[::1]:80",
        "http://[::ffff:127.0.0.1]:80",
    ],
)
def test_https_and_loopback_are_accepted_without_a_warning(url: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ClientConfig.resolve(api_key=TEST_KEY, base_url=url).api_key == TEST_KEY


def test_plain_http_without_a_key_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    # Nothing secret would travel: the public model list over a plain-http mirror is fine.
    config = ClientConfig.resolve(base_url="http://mirror.example")
    assert config.api_key is None
    monkeypatch.setenv("DEEPINFRA_API_KEY", TEST_KEY)
    with pytest.raises(ValueError, match="unencrypted"):  # ... but a key from the env counts
        ClientConfig.resolve(base_url="http://mirror.example")


def test_the_client_takes_allow_insecure() -> None:
    from deepinfra_sdk import DeepInfraClient

    with pytest.raises(ValueError, match="allow_insecure"):
        DeepInfraClient(TEST_KEY, base_url="http://gateway.internal")
    client = DeepInfraClient(TEST_KEY, base_url="http://gateway.internal", allow_insecure=True)
    assert client.base_url == "http://gateway.internal"
    assert TEST_KEY not in repr(client)


def test_repr_hides_proxy_passwords_and_credential_headers() -> None:
    config = ClientConfig.resolve(
        api_key=TEST_KEY,
        proxy="http://user:hunter2@proxy.example:3128",
        default_headers={"X-Team": "blue", "Authorization": f"Bearer {TEST_KEY}", "Cookie": "s=1"},
    )
    text = repr(config)
    assert "hunter2" not in text
    assert TEST_KEY not in text
    assert "s=1" not in text
    assert "'X-Team': 'blue'" in text  # harmless headers stay visible for debugging
    assert "proxy.example:3128" in text
    assert "api_key=[set]" in text
    assert "api_key=None" in repr(ClientConfig.resolve())


@pytest.mark.parametrize(
    ("headers", "exc", "fragment"),
    [
        ({"X-A": "1\r\nX-B: 2"}, ValueError, "CR, LF"),
        ({"X-A\r\nX-B": "2"}, ValueError, "CR, LF"),
        ({"X-A": "1\x00"}, ValueError, "NUL"),
        ({"X-A": "line\n"}, ValueError, "CR, LF"),
        ({"X A": "1"}, ValueError, "field name"),
        ({"X-A:": "1"}, ValueError, "field name"),
        ({"": "1"}, ValueError, "field name"),
        ({"X-A": " padded"}, ValueError, "whitespace"),
        ({"X-A": "padded\t"}, ValueError, "whitespace"),
        ({"X-A": 5}, TypeError, "str()"),
        ({"X-Team": "команда"}, ValueError, "Latin-1"),
    ],
)
def test_bad_default_headers_are_refused_before_any_request(
    headers: dict[str, object], exc: type[Exception], fragment: str
) -> None:
    with pytest.raises(exc, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        ClientConfig.resolve(default_headers=headers)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("given", "root"),
    [
        ("https://api.deepinfra.com/v1/openai", "https://api.deepinfra.com"),
        ("https://api.deepinfra.com/v1/openai/", "https://api.deepinfra.com"),
        ("https://api.deepinfra.com/v1", "https://api.deepinfra.com"),
        ("https://gateway.example/deepinfra/v1/openai", "https://gateway.example/deepinfra"),
    ],
)
def test_an_openai_style_base_url_is_corrected_with_a_warning_naming_the_root(
    given: str, root: str
) -> None:
    with pytest.warns(DeepInfraWarning) as caught:
        config = ClientConfig.resolve(api_key=TEST_KEY, base_url=given)
    assert config.base_url == root
    assert len(caught) == 1
    message = str(caught[0].message)
    assert f"using the API root {root!r}" in message and "DEEPINFRA_BASE_URL" in message
    assert caught[0].filename == __file__  # attributed to the caller's line, not the SDK's


def test_the_base_url_correction_applies_to_the_environment_and_hides_passwords(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DEEPINFRA_BASE_URL", "https://user:hunter2@gw.example/v1/openai")
    with pytest.warns(DeepInfraWarning, match=r"using the API root 'https://gw\.example'") as c:
        config = ClientConfig.resolve(api_key=TEST_KEY)
    assert config.base_url == "https://gw.example"
    assert "hunter2" not in str(c[0].message)


def test_a_root_that_merely_contains_v1_is_left_alone() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for url in ("https://v1.example", "https://gw.example/v10", "https://gw.example/v1x"):
            assert ClientConfig.resolve(api_key=TEST_KEY, base_url=url).base_url == url


def test_an_openai_style_base_url_reaches_the_api(monkeypatch: pytest.MonkeyPatch) -> None:
    from deepinfra_sdk import DeepInfraClient
    from deepinfra_sdk.emulator import Emulator

    with Emulator() as emu:
        with pytest.warns(DeepInfraWarning):
            client = DeepInfraClient(emu.api_key, base_url=emu.url + "/v1/openai")
        with client:
            assert client.models.text_models()
            answer = client.chat.completions.create(
                model="meta-llama/Llama-3.3-70B-Instruct-Turbo",
                messages=[{"role": "user", "content": "hi"}],
            )
            assert answer.text
