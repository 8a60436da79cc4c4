"""Every emulator route and fault, through the public SDK, over real loopback sockets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from deepinfra_sdk import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APIStreamError,
    AuthenticationError,
    BadRequestError,
    DeepInfraClient,
    InternalServerError,
    LockedError,
    MissingAPIKeyError,
    NotFoundError,
    PaymentRequiredError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
)
from deepinfra_sdk.emulator import CATALOGUE, FEATURED, Emulator, Fault

MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
MSGS = [{"role": "user", "content": "Name three rivers."}]
CHAT = "/v1/openai/chat/completions"


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator() as e:
        yield e


@pytest.fixture
def client(emu: Emulator) -> Iterator[DeepInfraClient]:
    emu.reset()
    with DeepInfraClient(emu.api_key, base_url=emu.url, max_retries=0) as c:
        yield c
    emu.clear_faults()


def reference_text(client: DeepInfraClient) -> str:
    return client.chat.completions.create(model=MODEL, messages=MSGS).text


# -- routes -----------------------------------------------------------------------------


def test_model_routes(client: DeepInfraClient) -> None:
    featured = client.models.list()
    assert [m.model_name for m in featured] == FEATURED
    everything = client.models.list(featured=False)
    assert len(everything) == len(CATALOGUE)
    assert MODEL in client.models.text_models()
    assert "stabilityai/sd3.5" in client.models.image_models()
    one = client.models.get("stabilityai/sd3.5")
    assert one.reported_type == "text-to-image"
    deprecated = [m for m in everything if m.replaced_by]
    assert deprecated and deprecated[0].is_deprecated


def test_chat_choices_tools_and_reasoning(client: DeepInfraClient) -> None:
    out = client.chat.completions.create(model=MODEL, messages=MSGS, n=2, max_tokens=5)
    assert [c.finish_reason for c in out.choices] == ["length", "length"]
    assert out.usage is not None and out.usage.estimated_cost is not None
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    with client.chat.completions.create(model=MODEL, messages=MSGS, tools=tools, stream=True) as s:
        list(s)
    assert s.finish_reason == "tool_calls"
    assert s.tool_calls[0].function.name == "lookup"
    with client.chat.completions.create(
        model="deepseek-ai/DeepSeek-R1", messages=MSGS, stream=True
    ) as s:
        list(s)
    assert s.reasoning and s.text


def test_image_routes(client: DeepInfraClient) -> None:
    native = client.images.generate("a bridge", width=64, height=64, seed=3)
    assert native.media_type() == "image/png" and native.seed == 3
    cog = client.images.generate("a bridge", model="stability-ai/sdxl", width=64, height=64)
    assert cog.media_type() == "image/png"
    oa = client.images.generate("a bridge", api="openai", width=64, height=64, num_images=2)
    assert len(oa) == 2
    with pytest.raises(NotFoundError, match="stabilityai/sdxl-turbo"):
        client.images.generate("a bridge", model="runwayml/stable-diffusion-v1-5")


def test_embedding_routes(client: DeepInfraClient) -> None:
    floats = client.embeddings.create(input=["a", "b", "c"])
    packed = client.embeddings.create(input=["a", "b", "c"], encoding_format="base64")
    assert len(floats.embeddings) == 3
    assert packed.embeddings[2] == pytest.approx(floats.embeddings[2], rel=1e-6)


def test_wrong_key_is_an_authentication_error() -> None:
    with (
        Emulator(api_keys=["the-right-key"]) as emu,
        DeepInfraClient("a-wrong-key", base_url=emu.url) as client,
    ):
        with pytest.raises(AuthenticationError, match="Not authenticated") as info:
            client.chat.completions.create(model=MODEL, messages=MSGS)
        assert not isinstance(info.value, MissingAPIKeyError)
        assert str(info.value).startswith("the API key was rejected (Not authenticated)")
        assert "check DEEPINFRA_API_KEY" in str(info.value)
        assert client.models.list()  # the featured list needs no key


def test_no_key_sent_is_told_apart_from_a_rejected_key() -> None:
    # A loopback base URL (an emulator, a local proxy) may need no key, so none is
    # required before sending; the server's 401 then means "no key", not "wrong key".
    with Emulator() as emu, DeepInfraClient(base_url=emu.url) as client:
        with pytest.raises(MissingAPIKeyError) as info:
            client.chat.completions.create(model=MODEL, messages=MSGS)
        assert info.value.status_code == 401
        assert "no API key was sent" in str(info.value)
        assert "DEEPINFRA_API_KEY" in str(info.value) and "rejected" not in str(info.value)
        assert emu.requests[-1].headers.get("Authorization") is None


# -- error statuses in every body shape --------------------------------------------------

STATUSES = {
    400: BadRequestError,
    401: AuthenticationError,
    402: PaymentRequiredError,
    403: PermissionDeniedError,
    404: NotFoundError,
    422: UnprocessableEntityError,
    423: LockedError,
    429: RateLimitError,
    500: InternalServerError,
    503: InternalServerError,
}
SHAPES = ["error_str", "error_obj", "detail_str", "detail_obj", "detail_list", "text"]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("status", sorted(STATUSES))
def test_status_and_body_shape(
    emu: Emulator, client: DeepInfraClient, status: int, shape: str
) -> None:
    message = f"boom {status} {shape}"
    emu.inject(Fault(status=status, body_shape=shape, message=message, request_id="rid-7"))
    with pytest.raises(APIStatusError) as info:
        client.chat.completions.create(model=MODEL, messages=MSGS)
    err = info.value
    assert type(err) is STATUSES[status]
    assert err.status_code == status
    assert message in err.message
    assert err.request_id == "rid-7"
    assert emu.request_count(CHAT) == 1


# -- stream faults -----------------------------------------------------------------------


def test_drop_after_headers(emu: Emulator, client: DeepInfraClient) -> None:
    emu.inject(Fault(drop="after_headers"))
    stream = client.chat.completions.create(model=MODEL, messages=MSGS, stream=True)
    with pytest.raises(APIConnectionError) as info, stream:
        list(stream)
    assert info.value.partial_text == ""
    assert emu.request_count(CHAT) == 1


def test_malformed_frame(emu: Emulator, client: DeepInfraClient) -> None:
    emu.inject(Fault(malformed_frame=True, after_events=3))
    stream = client.chat.completions.create(model=MODEL, messages=MSGS, stream=True)
    with pytest.raises(APIResponseValidationError, match="not JSON") as info, stream:
        list(stream)
    assert info.value.partial_text == stream.text != ""


def test_openai_style_error_frame(emu: Emulator, client: DeepInfraClient) -> None:
    emu.inject(Fault(error_frame="openai", after_events=2))
    stream = client.chat.completions.create(model=MODEL, messages=MSGS, stream=True)
    with pytest.raises(APIStreamError) as info, stream:
        list(stream)
    assert info.value.partial_text == stream.text


def test_no_done_after_the_finish_chunk_still_completes(
    emu: Emulator, client: DeepInfraClient
) -> None:
    expected = reference_text(client)
    emu.inject(Fault(no_done=True))
    with client.chat.completions.create(model=MODEL, messages=MSGS, stream=True) as stream:
        list(stream)
    assert stream.text == expected
    assert stream.usage is not None


@pytest.mark.parametrize(
    "fault",
    [
        Fault(chunk_size=1),
        Fault(chunk_size=7, line_ending="\r\n"),
        Fault(bom=True),
        Fault(comment_lines=True),
        Fault(line_ending="\r"),
        Fault(line_ending="\r\n", framing="content-length"),
        Fault(line_ending="\r", framing="close"),
    ],
    ids=["1-byte", "7-byte-crlf", "bom", "comments", "cr", "crlf-length", "cr-close"],
)
def test_framing_variations_give_the_same_answer(
    emu: Emulator, client: DeepInfraClient, fault: Fault
) -> None:
    expected = reference_text(client)
    emu.inject(fault)
    with client.chat.completions.create(model=MODEL, messages=MSGS, stream=True) as stream:
        chunks = list(stream)
    assert stream.text == expected
    assert stream.done
    assert stream.usage is not None
    assert len(chunks) == stream.chunks_received
