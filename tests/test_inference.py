"""``client.inference.run`` (any model, native route), ``client.rerank``, and the model
schemas and OpenAI-shaped list, against the emulator."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from deepinfra_sdk import (
    APIResponseValidationError,
    ArgumentTypeError,
    ArgumentValueError,
    AsyncDeepInfraClient,
    DeepInfraClient,
    ImageResponse,
    InferenceResult,
    ModelSchema,
    NotFoundError,
    OpenAIModel,
    RerankResponse,
    UnprocessableEntityError,
)
from deepinfra_sdk.emulator import Emulator
from deepinfra_sdk.emulator._audio import encode_speech
from tests._servers import raw_server, webhook_receiver

CLASSIFIER = "distilbert/distilbert-base-uncased-finetuned-sst-2-english"
RERANKER = "BAAI/bge-reranker-v2-m3"
QUERY = "What is the capital of France?"
DOCS = ["Berlin is the capital of Germany.", "Paris is the capital of France.", "Cats sleep."]


# -- inference.run --------------------------------------------------------------------------


def test_run_sends_json_and_returns_the_whole_answer(
    emu_client: DeepInfraClient, emu: Emulator
) -> None:
    result = emu_client.inference.run(CLASSIFIER, {"input": "a great day"})
    assert isinstance(result, InferenceResult)
    assert result["results"][0] == {"label": "POSITIVE", "score": result["results"][0]["score"]}
    assert "results" in result and result.status == "succeeded"
    assert result.cost is not None and result.cost > 0
    assert result.request_id == result.body["request_id"]
    assert emu.requests[-1].path == "/v1/inference/" + CLASSIFIER
    assert emu.requests[-1].json == {"input": "a great day"}
    # Keywords are inputs too, and win over the mapping.
    again = emu_client.inference.run(CLASSIFIER, {"input": "bad"}, input="a great day")
    assert again.body["results"] == result.body["results"]
    assert emu_client.usage.by_model()[CLASSIFIER].requests == 2
    assert emu_client.usage.by_model()[CLASSIFIER].cost == pytest.approx(2 * result.cost)


def test_a_file_input_makes_the_request_multipart(
    emu_client: DeepInfraClient, emu: Emulator, tmp_path: Path
) -> None:
    audio = tmp_path / "words.wav"
    audio.write_bytes(encode_speech("Native speech."))
    result = emu_client.inference.run(
        "openai/whisper-large-v3", audio=audio, task="transcribe", chunk_level="segment"
    )
    assert result["text"] == "Native speech."
    assert result["segments"][0]["text"] == "Native speech."
    form = emu.requests[-1].form
    assert form["fields"] == {"task": "transcribe", "chunk_level": "segment"}
    assert form["files"]["audio"][0]["filename"] == "words.wav"
    raw = emu_client.inference.run("openai/whisper-large-v3", {"audio": audio.read_bytes()})
    assert raw["text"] == "Native speech."
    # Text, and a tuple of strings, are values: the request stays JSON.
    emu_client.inference.run(CLASSIFIER, input=str(audio), candidate_labels=("dog", "cat"))
    assert emu.requests[-1].json == {"input": str(audio), "candidate_labels": ["dog", "cat"]}


def test_native_speech_comes_back_as_a_data_uri(emu_client: DeepInfraClient) -> None:
    from deepinfra_sdk._images import decode_data_uri

    spoken = emu_client.inference.run(
        "hexgrad/Kokoro-82M", text="Native voice.", preset_voice=["af_bella"]
    )
    assert spoken["audio"].startswith("data:audio/wav;base64,")
    audio = decode_data_uri(spoken["audio"])
    heard = emu_client.inference.run("openai/whisper-large-v3", audio=("voice.wav", audio))
    assert heard["text"] == "Native voice."
    assert spoken.cost is not None and spoken.cost > 0


def test_webhook_answers_queued_at_once(emu_client: DeepInfraClient, emu: Emulator) -> None:
    with webhook_receiver() as (url, delivered, arrived):
        queued = emu_client.inference.run(CLASSIFIER, input="good", webhook=url)
        assert queued.status == "queued" and queued.cost == 0
        assert emu.requests[-1].json == {"input": "good", "webhook": url}
        assert arrived.wait(10)
    assert delivered[0]["request_id"] == queued.request_id
    assert delivered[0]["results"]["results"][0]["label"] == "POSITIVE"


@pytest.mark.parametrize(
    "url", ["https://example.com/hook", "http://10.0.0.1/hook", "http://localhost.example/x"]
)
def test_the_emulator_posts_webhooks_only_to_loopback(
    emu_client: DeepInfraClient, emu: Emulator, url: str
) -> None:
    with pytest.raises(UnprocessableEntityError, match="only to loopback"):
        emu_client.inference.run(CLASSIFIER, input="good", webhook=url, max_retries=0)
    assert [t.name for t in threading.enumerate() if t.name == "webhook"] == []


def test_a_deployment_goes_to_its_route(emu_client: DeepInfraClient, emu: Emulator) -> None:
    result = emu_client.inference.run("deploy_id:d-emulator-classifier", input="good")
    assert result["results"][0]["label"] == "POSITIVE"
    assert emu.requests[-1].path == "/v1/inference/deploy/d-emulator-classifier"
    with pytest.raises(ArgumentValueError, match="deploy_id:"):
        emu_client.inference.run("deploy_id:../x", input="good")
    with pytest.raises(NotFoundError):
        emu_client.inference.run("deploy_id:nope", input="good")


def test_image_generation_goes_through_the_same_native_path(
    emu_client: DeepInfraClient, emu: Emulator
) -> None:
    image = emu_client.images.generate("a lighthouse", model="deploy_id:d-emulator-images", seed=3)
    assert isinstance(image, ImageResponse) and len(image.images) == 1
    assert emu.requests[-1].path == "/v1/inference/deploy/d-emulator-images"
    same = emu_client.inference.run(
        "black-forest-labs/FLUX-1-schnell", prompt="a lighthouse", seed=3
    )
    assert same["images"] == image.images


def test_bad_inputs_and_server_refusals(emu_client: DeepInfraClient) -> None:
    with pytest.raises(ArgumentTypeError, match="inputs must be a mapping"):
        emu_client.inference.run(CLASSIFIER, ["input"])  # type: ignore[arg-type]
    with pytest.raises(ArgumentValueError, match="invalid model name"):
        emu_client.inference.run("no slash", input="x")
    with pytest.raises(UnprocessableEntityError):
        emu_client.inference.run(CLASSIFIER, input=3)


# -- rerank ---------------------------------------------------------------------------------


def test_rerank_sorts_best_first_and_keeps_top_n(
    emu_client: DeepInfraClient, emu: Emulator
) -> None:
    result = emu_client.rerank.create(model=RERANKER, query=QUERY, documents=DOCS)
    assert isinstance(result, RerankResponse)
    assert [r.index for r in result.results] == [1, 0, 2]
    assert result.results[0].document == DOCS[1]
    scores = [r.score for r in result.results]
    assert scores == sorted(scores, reverse=True)
    assert [result.scores[r.index] for r in result.results] == scores
    assert emu.requests[-1].json == {"queries": [QUERY] * 3, "documents": DOCS}
    assert result.request_id and result.input_tokens
    assert result.inference_status is not None and result.inference_status.cost
    top = emu_client.rerank.create(model=RERANKER, query=QUERY, documents=DOCS, top_n=1)
    assert [r.index for r in top.results] == [1] and len(top.scores) == 3
    assert emu_client.usage.by_model()[RERANKER].requests == 2


def test_rerank_refuses_bad_arguments(emu_client: DeepInfraClient, emu: Emulator) -> None:
    with pytest.raises(ArgumentTypeError, match="list of strings"):
        emu_client.rerank.create(query=QUERY, documents="one string")
    with pytest.raises(ArgumentValueError, match="top_n"):
        emu_client.rerank.create(query=QUERY, documents=DOCS, top_n=0)
    with pytest.raises(ArgumentTypeError, match="did you mean 'top_n'"):
        emu_client.rerank.create(query=QUERY, documents=DOCS, topn=1)  # type: ignore[call-arg]
    assert emu.request_count("/v1/inference") == 0


@pytest.mark.parametrize(
    "body",
    [
        b'{"scores": [0.5], "request_id": "r"}',
        # Not numbers: sorting them would raise a bare TypeError from inside the SDK.
        b'{"scores": [0.5, "high"], "request_id": "r"}',
    ],
    ids=["too_few", "not_numbers"],
)
def test_rerank_scores_that_do_not_fit_are_a_validation_error(body: bytes) -> None:
    def answer(conn: Any) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)

    with raw_server(answer) as url, DeepInfraClient("k", base_url=url) as c:
        with pytest.raises(APIResponseValidationError, match="2 scores, one number per"):
            c.rerank.create(query=QUERY, documents=DOCS[:2])


# -- models.schema and list_openai ----------------------------------------------------------


def test_schema_says_what_a_model_takes(emu_client: DeepInfraClient) -> None:
    schema = emu_client.models.schema("openai/whisper-large-v3")
    assert isinstance(schema, ModelSchema)
    assert schema.variant["key"] == "default"
    assert "audio" in schema.fields_in and "audio" in schema.schema_in["properties"]
    chat = emu_client.models.schema("meta-llama/Llama-3.3-70B-Instruct-Turbo", "openai-completions")
    assert chat.variant["key"] == "openai-completions"
    with pytest.raises(NotFoundError, match="openai-chat-completions"):
        emu_client.models.schema("meta-llama/Llama-3.3-70B-Instruct-Turbo", "openai-tts")
    with pytest.raises(ArgumentValueError):
        emu_client.models.schema("openai/whisper-large-v3", "../x")


def test_list_openai(emu_client: DeepInfraClient) -> None:
    models = emu_client.models.list_openai()
    assert models and all(isinstance(m, OpenAIModel) for m in models)
    ids = [m.id for m in models]
    assert "meta-llama/Llama-3.3-70B-Instruct-Turbo" in ids
    assert "runwayml/stable-diffusion-v1-5" not in ids  # deprecated
    first = models[0]
    assert first.metadata is not None and "pricing" in first.metadata
    assert first.request_id


@pytest.mark.parametrize("body", [b'{"data": 5}', b'{"data": [{"object": "model"}]}'])
def test_a_broken_model_list_error_carries_the_status_and_request_id(body: bytes) -> None:
    def answer(conn: Any) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nx-request-id: r3\r\n"
        conn.sendall(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)

    with raw_server(answer) as url, DeepInfraClient("k", base_url=url) as c:
        with pytest.raises(APIResponseValidationError) as caught:
            c.models.list_openai()
    assert caught.value.status_code == 200 and caught.value.request_id == "r3"


# -- the async twins ------------------------------------------------------------------------


@pytest.mark.anyio
async def test_async_inference_rerank_and_models(
    emu: Emulator, emu_client: DeepInfraClient
) -> None:
    async with AsyncDeepInfraClient(emu.api_key, base_url=emu.url) as aclient:
        result = await aclient.inference.run(CLASSIFIER, input="a great day")
        assert (
            result.body["results"]
            == emu_client.inference.run(CLASSIFIER, input="a great day")["results"]
        )
        ranked = await aclient.rerank.create(model=RERANKER, query=QUERY, documents=DOCS)
        assert [r.index for r in ranked.results] == [1, 0, 2]
        schema = await aclient.models.schema(RERANKER)
        assert "queries" in schema.fields_in
        listed = await aclient.models.list_openai()
        assert [m.id for m in listed] == [m.id for m in emu_client.models.list_openai()]
