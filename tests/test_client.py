"""DeepInfraClient and its resources, over a mocked transport (`responses`)."""

from __future__ import annotations

import base64
import json
import os
import pickle
import threading
import time
from typing import Any, Callable

import pytest
import requests
import responses
from responses.registries import OrderedRegistry

from deepinfra_sdk import (
    APIResponseValidationError,
    ChatCompletion,
    ChatStream,
    DeepInfraClient,
    EmbeddingResponse,
    ImageResponse,
    Timeout,
)

from .conftest import REMOTE, TEST_KEY

PNG_1PX = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVQI12PQz3wAAAJDAXkkWn+MAAAAAElFTkSuQmCC"
)
FEATURED = [
    {
        "model_name": "meta-llama/Llama-3.3-70B-Instruct-Turbo",
        "type": "text-generation",
        "reported_type": "text-generation",
        "pricing": {
            "type": "tokens",
            "cents_per_input_token": 2.3e-05,
            "cents_per_output_token": 4e-05,
        },
    },
    {
        "model_name": "stabilityai/sd3.5",
        "type": "text-to-image",
        "reported_type": "text-to-image",
        "pricing": {"type": "image_units", "cents_per_image_unit": 6.5},
    },
    {
        "model_name": "black-forest-labs/FLUX-1-schnell",
        "type": "custom",
        "reported_type": "text-to-image",
        "pricing": {"type": "image_units", "cents_per_image_unit": 0.05},
        "future_field": [1, 2],
    },
    {
        "model_name": "BAAI/bge-large-en-v1.5",
        "type": "embeddings",
        "reported_type": "embeddings",
        "pricing": {"type": "input_tokens", "cents_per_input_token": 1e-06},
    },
]
CHAT = REMOTE + "/v1/openai/chat/completions"
MSGS = [{"role": "user", "content": "hi"}]


def test_repr_and_str_never_show_the_key() -> None:
    c = DeepInfraClient(api_key=TEST_KEY)
    assert TEST_KEY not in repr(c)
    assert TEST_KEY not in str(c)
    assert "https://api.deepinfra.com" in repr(c)
    assert c.has_api_key
    assert c.max_retries == 2
    assert isinstance(c.timeout, Timeout)


def test_no_network_or_requests_import_at_construction() -> None:
    c = DeepInfraClient(api_key=TEST_KEY)
    assert c._transport_obj is None  # the session is built on first use


def test_pickle_carries_configuration_only() -> None:
    c = DeepInfraClient(api_key=TEST_KEY, base_url="http://127.0.0.1:1", timeout=Timeout(2, 3, 4))
    c._transport  # noqa: B018 - build a session that must not be pickled
    back = pickle.loads(pickle.dumps(c))
    assert back.base_url == c.base_url
    assert back.timeout == Timeout(2, 3, 4)
    assert back.has_api_key
    assert back._transport_obj is None
    assert back._transport is not c._transport


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_after_fork_the_child_builds_its_own_session() -> None:
    c = DeepInfraClient(api_key=TEST_KEY)
    parent_transport = c._transport
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        try:
            ok = c._transport is not parent_transport and c._transport is c._transport
            os.write(write, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(write)
    result = os.read(read, 1)
    os.close(read)
    os.waitpid(pid, 0)
    assert result == b"1"
    assert c._transport is parent_transport


def test_closed_client_refuses_work() -> None:
    with DeepInfraClient(api_key=TEST_KEY) as c:
        c._transport  # noqa: B018
    with pytest.raises(RuntimeError, match="closed"):
        c.models.list()


def test_uses_a_given_session_and_does_not_close_it() -> None:
    session = requests.Session()
    with responses.RequestsMock() as rsps:
        rsps.get(REMOTE + "/models/featured", json=[])
        with DeepInfraClient(api_key=TEST_KEY, session=session) as c:
            c.models.list()
            assert c._transport.session is session
    session.get  # still usable  # noqa: B018
    session.close()


# -- models -------------------------------------------------------------------------------


@responses.activate
def test_models_are_typed_split_and_cached(client: DeepInfraClient) -> None:
    responses.get(REMOTE + "/models/featured", json=FEATURED)
    models = client.models.list()
    assert [m.model_name for m in models] == [m["model_name"] for m in FEATURED]
    assert models[0].pricing is not None and models[0].pricing.type == "tokens"
    assert client.models.text_models() == ["meta-llama/Llama-3.3-70B-Instruct-Turbo"]
    assert client.models.image_models() == ["stabilityai/sd3.5", "black-forest-labs/FLUX-1-schnell"]
    assert len(responses.calls) == 1  # cached
    client.models.list(refresh=True)
    assert len(responses.calls) == 2


@responses.activate
def test_all_models_and_one_model(client: DeepInfraClient) -> None:
    responses.get(REMOTE + "/models/list", json=FEATURED)
    responses.get(REMOTE + "/models/stabilityai/sd3.5", json=FEATURED[1])
    assert len(client.models.list(featured=False)) == 4
    assert client.models.get("stabilityai/sd3.5").reported_type == "text-to-image"
    with pytest.raises(ValueError, match="owner/name"):
        client.models.get("../etc")


@responses.activate
def test_model_list_must_be_an_array(client: DeepInfraClient) -> None:
    responses.get(REMOTE + "/models/featured", json={"oops": True})
    with pytest.raises(APIResponseValidationError, match="JSON array"):
        client.models.list()


@responses.activate
def test_cache_expires_after_ttl(client: DeepInfraClient, monkeypatch: pytest.MonkeyPatch) -> None:
    responses.get(REMOTE + "/models/featured", json=FEATURED)
    client.models.list()
    now = time.monotonic()
    monkeypatch.setattr(time, "monotonic", lambda: now + 601)
    client.models.list()
    assert len(responses.calls) == 2


def _at_once(work: Callable[[], object], count: int = 32, status: int = 200) -> int:
    """Run ``work`` in ``count`` threads released together; return the requests made."""
    calls = []

    def slow(request: Any) -> tuple[int, dict[str, str], str]:
        calls.append(1)
        time.sleep(0.2)  # widen the window in which the other threads ask too
        return status, {}, json.dumps(FEATURED if status == 200 else {"error": "down"})

    barrier = threading.Barrier(count)
    with responses.RequestsMock() as rsps:
        rsps.add_callback(responses.GET, REMOTE + "/models/featured", callback=slow)
        threads = [threading.Thread(target=lambda: (barrier.wait(), work())) for _ in range(count)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    return len(calls)


def test_32_threads_make_one_request(client: DeepInfraClient) -> None:
    results: list[int] = []
    assert _at_once(lambda: results.append(len(client.models.image_models()))) == 1
    assert results == [2] * 32


def test_32_threads_refreshing_at_once_make_one_request(client: DeepInfraClient) -> None:
    assert _at_once(lambda: client.models.list(refresh=True)) == 1


def test_a_failed_fetch_fails_every_waiting_thread_with_one_request() -> None:
    from deepinfra_sdk import InternalServerError

    errors: list[BaseException] = []
    client = DeepInfraClient(api_key=TEST_KEY, base_url=REMOTE, max_retries=0)

    def work() -> None:
        try:
            client.models.list()
        except InternalServerError as exc:
            errors.append(exc)

    assert _at_once(work, status=500) == 1
    assert len(errors) == 32
    client.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_fork_while_another_thread_fetches_does_not_hang_the_child() -> None:
    import signal
    import warnings

    from deepinfra_sdk.emulator import Emulator, Fault

    with Emulator() as emu, DeepInfraClient(emu.api_key, base_url=emu.url) as c:
        emu.inject(Fault(stall=1.0), route="/models/featured")
        fetching = threading.Thread(target=c.models.list)
        fetching.start()
        time.sleep(0.3)  # the thread is now waiting for the stalled answer
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads, 3.12+
            pid = os.fork()
        if pid == 0:  # child: the fetching thread does not exist here
            code = 1
            try:
                signal.alarm(5)  # a deadlock ends the child by SIGALRM
                code = 0 if c.models.text_models() else 1
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        fetching.join()
    assert os.WIFEXITED(status), "the child hung (killed by a signal)"
    assert os.WEXITSTATUS(status) == 0


# -- chat -----------------------------------------------------------------------------------


@responses.activate
def test_chat_completion(client: DeepInfraClient) -> None:
    responses.post(
        CHAT,
        json={
            "id": "c",
            "object": "chat.completion",
            "created": 1,
            "model": "m/x",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": " Hello!"},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": 15,
                "completion_tokens": 16,
                "total_tokens": 31,
                "estimated_cost": 2.68e-05,
            },
        },
    )
    out = client.chat.completions.create(model="m/x", messages=MSGS, max_tokens=10, stop=["\n"])
    assert isinstance(out, ChatCompletion)
    assert out.text == " Hello!"
    assert out.usage is not None and out.usage.estimated_cost == pytest.approx(2.68e-05)
    sent = json.loads(responses.calls[0].request.body)
    assert sent["max_tokens"] == 10 and sent["stop"] == ["\n"] and "stream" not in sent


@responses.activate
def test_chat_extra_body_and_passthrough(client: DeepInfraClient) -> None:
    responses.post(CHAT, json={"id": "c", "choices": []})
    client.chat.completions.create(
        model="m/x", messages=MSGS, repetition_penalty=1.1, extra_body={"new_option": {"a": 1}}
    )
    sent = json.loads(responses.calls[0].request.body)
    assert sent["repetition_penalty"] == 1.1
    assert sent["new_option"] == {"a": 1}


@responses.activate
def test_chat_without_choices_is_a_validation_error(client: DeepInfraClient) -> None:
    responses.post(CHAT, json={"id": "c"})
    with pytest.raises(APIResponseValidationError, match="choices"):
        client.chat.completions.create(model="m/x", messages=MSGS)


@responses.activate
def test_chat_stream_through_responses(client: DeepInfraClient) -> None:
    body = (
        'data: {"id":"c","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}\r\n\r\n'
        'data: {"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],'
        '"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2,"estimated_cost":1e-06}}\r\n\r\n'
        "data: [DONE]\r\n\r\n"
    )
    responses.post(CHAT, body=body, content_type="text/event-stream")
    with client.chat.completions.create(model="m/x", messages=MSGS, stream=True) as stream:
        assert isinstance(stream, ChatStream)
        texts = list(stream.iter_text())
    assert texts == ["Hi"]
    assert stream.usage is not None and stream.usage.total_tokens == 2
    req = responses.calls[0].request
    assert json.loads(req.body)["stream"] is True
    assert req.headers["Accept"] == "text/event-stream"


@pytest.mark.parametrize("model", ["", "   ", None])
def test_chat_needs_a_model(client: DeepInfraClient, model: Any) -> None:
    with pytest.raises(ValueError, match="model is required"):
        client.chat.completions.create(model=model, messages=MSGS)


def test_chat_rejects_bad_messages_before_sending(client: DeepInfraClient) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        with pytest.raises(TypeError, match="list of dicts"):
            client.chat.completions.create(model="m/x", messages="hello")  # type: ignore[arg-type]
        assert len(rsps.calls) == 0


# -- images ---------------------------------------------------------------------------------

NATIVE = {
    "images": [f"data:image/png;base64,{PNG_1PX}"],
    "nsfw_content_detected": [False],
    "seed": 42,
    "request_id": None,
    "inference_status": {
        "status": "succeeded",
        "runtime_ms": 10,
        "cost": 0.0065,
        "tokens_generated": 0,
        "tokens_input": 0,
    },
}


@responses.activate
def test_native_image_generation(client: DeepInfraClient, tmp_path: Any) -> None:
    responses.post(REMOTE + "/v1/inference/stabilityai/sd3.5", json=NATIVE)
    img = client.images.generate("a cat", width=512, height=512, seed=42, guidance_scale=None)
    assert isinstance(img, ImageResponse)
    assert img.images == NATIVE["images"]
    assert img.seed == 42
    assert img.prompt == "a cat"
    assert img.inference_status is not None and img.inference_status.cost == pytest.approx(0.0065)
    assert img.image_bytes().startswith(b"\x89PNG")
    sent = json.loads(responses.calls[0].request.body)
    assert sent == {"prompt": "a cat", "width": 512, "height": 512, "seed": 42}
    paths = img.save(tmp_path / "cat")
    assert paths[0].suffix == ".png" and paths[0].read_bytes() == base64.b64decode(PNG_1PX)


@responses.activate
def test_cog_style_models_get_input_wrapper(client: DeepInfraClient) -> None:
    responses.post(
        REMOTE + "/v1/inference/stability-ai/sdxl",
        json={"output": [f"data:image/png;base64,{PNG_1PX}"], "status": "succeeded"},
    )
    img = client.images.generate(
        "a dog", model="stability-ai/sdxl", num_images=2, extra_body={"refine": "expert"}
    )
    sent = json.loads(responses.calls[0].request.body)
    assert sent == {"input": {"prompt": "a dog", "num_outputs": 2, "refine": "expert"}}
    assert len(img.images) == 1


@responses.activate
def test_openai_style_images(client: DeepInfraClient) -> None:
    responses.post(
        REMOTE + "/v1/openai/images/generations",
        json={"created": 1707000000, "data": [{"b64_json": PNG_1PX, "revised_prompt": "x"}]},
    )
    img = client.images.generate(
        "a fox", model="stabilityai/sd3.5", api="openai", width=1024, height=768
    )
    assert img.images[0].startswith("data:image/png;base64,")
    sent = json.loads(responses.calls[0].request.body)
    assert sent == {
        "model": "stabilityai/sd3.5",
        "prompt": "a fox",
        "size": "1024x768",
        "response_format": "b64_json",
    }


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"prompt": ""}, "prompt"),
        ({"prompt": "x", "model": "bad model"}, "owner/name"),
        ({"prompt": "x", "width": 0}, "width"),
        ({"prompt": "x", "num_images": 5}, "at most 4"),
        ({"prompt": "x", "api": "openai", "negative_prompt": "y"}, "api='native'"),
        ({"prompt": "x", "api": "openai", "width": 5}, "both width and height"),
        ({"prompt": "x", "api": "other"}, "api must be"),
    ],
)
def test_image_arguments_are_checked_before_sending(
    client: DeepInfraClient, kwargs: dict[str, Any], fragment: str
) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        with pytest.raises(ValueError) as info:
            client.images.generate(**kwargs)
        assert fragment in str(info.value)
        assert len(rsps.calls) == 0


@responses.activate
def test_image_response_without_images_is_an_error(client: DeepInfraClient) -> None:
    responses.post(
        REMOTE + "/v1/inference/stabilityai/sd3.5", json={"images": [], "request_id": "r"}
    )
    with pytest.raises(APIResponseValidationError, match="no image"):
        client.images.generate("a cat")


# -- embeddings -----------------------------------------------------------------------------


@responses.activate(registry=OrderedRegistry)
def test_embeddings(client: DeepInfraClient) -> None:
    payload = {
        "object": "list",
        "model": "BAAI/bge-large-en-v1.5",
        "data": [{"object": "embedding", "index": 0, "embedding": [0.5, -0.25]}],
        "usage": {"prompt_tokens": 3, "total_tokens": 3},
    }
    responses.post(REMOTE + "/v1/openai/embeddings", json=payload)
    out = client.embeddings.create(input="hello")
    assert isinstance(out, EmbeddingResponse)
    assert out.embeddings == [[0.5, -0.25]]
    assert json.loads(responses.calls[0].request.body) == {
        "model": "BAAI/bge-large-en-v1.5",
        "input": "hello",
    }
    with pytest.raises(TypeError, match="non-empty list"):
        client.embeddings.create(input=[])
    with pytest.raises(TypeError, match="non-empty list"):
        client.embeddings.create(input=[1, 2])  # type: ignore[list-item]


@pytest.mark.parametrize("model", ["not a model", "a/b?x=1", "../x"])
def test_chat_and_embeddings_check_model_names_before_sending(
    client: DeepInfraClient, model: str
) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        with pytest.raises(ValueError, match="owner/name"):
            client.chat.completions.create(model=model, messages=MSGS)
        with pytest.raises(ValueError, match="owner/name"):
            client.embeddings.create(model=model, input="x")
        assert len(rsps.calls) == 0


@pytest.mark.parametrize(
    ("content_type", "body", "fragment"),
    [
        ("application/json", '{"error": {"message": "quota exceeded"}}', "quota exceeded"),
        ("text/html", "<html>proxy says no</html>", "proxy says no"),
    ],
)
@responses.activate
def test_a_stream_answered_with_something_else_says_what_came(
    client: DeepInfraClient, content_type: str, body: str, fragment: str
) -> None:
    responses.post(CHAT, body=body, content_type=content_type)
    with pytest.raises(APIResponseValidationError, match="expected an event stream") as info:
        client.chat.completions.create(model="m/x", messages=MSGS, stream=True)
    assert fragment in str(info.value)
    assert info.value.status_code == 200


@responses.activate
def test_unset_image_extras_and_nan_never_reach_the_wire(client: DeepInfraClient) -> None:
    responses.post(REMOTE + "/v1/inference/stabilityai/sd3.5", json=NATIVE)
    client.images.generate("a cat", extra_body={"webhook": None, "scheduler": "euler"})
    assert json.loads(responses.calls[0].request.body) == {"prompt": "a cat", "scheduler": "euler"}
    with pytest.raises(ValueError, match="NaN"):
        client.chat.completions.create(model="m/x", messages=MSGS, temperature=float("nan"))
    assert len(responses.calls) == 1


def test_a_client_allowed_plain_http_survives_pickling() -> None:
    # The consent was given when the client was built; the copy must not refuse it again.
    c = DeepInfraClient(TEST_KEY, base_url="http://gateway.internal:8080", allow_insecure=True)
    back = pickle.loads(pickle.dumps(c))
    assert back.base_url == "http://gateway.internal:8080"
    assert back.has_api_key
    assert TEST_KEY not in repr(back)


@responses.activate
def test_an_oversized_or_circular_body_is_refused_before_the_transport(
    client: DeepInfraClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import deepinfra_sdk._validation as validation

    monkeypatch.setattr(validation, "MAX_REQUEST_BYTES", 1000)
    responses.post(CHAT, json={"choices": []})
    with pytest.raises(ValueError, match=r"at least [\d,]+ bytes, over the SDK's limit of 1,000"):
        client.chat.completions.create(
            model="m/x", messages=[{"role": "user", "content": "x" * 1000}]
        )
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="circular reference"):
        client.embeddings.create(model="m/x", input="x", extra_body={"extra": loop})
    assert len(responses.calls) == 0
