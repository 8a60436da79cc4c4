"""DeepInfra's own ``deepinfra`` package (0.3.0) against the emulator, compared with this SDK.

0.3.0 offers ``DeepInfraClient`` and sandboxes, plus the legacy native-inference wrappers
``TextGeneration``, ``Embeddings``, ``TextToImage`` and ``AutomaticSpeechRecognition``. Each
wrapper takes "the endpoint of the model or the model name" (its docstring): a full URL is
used as it is, which is how it is pointed at the emulator.
"""

from __future__ import annotations

import base64

import pytest

from deepinfra_sdk import DeepInfraClient
from deepinfra_sdk.emulator import Emulator

from .conftest import EMBED_MODEL, IMAGE_MODEL, TEXT_MODEL, require

deepinfra = require("deepinfra", "deepinfra==0.3.0")


def endpoint(emu: Emulator, model: str) -> str:
    return f"{emu.url}/v1/inference/{model}"


def test_text_generation(emu: Emulator, ours: DeepInfraClient) -> None:
    model = deepinfra.TextGeneration(endpoint(emu, TEXT_MODEL), auth_token=emu.api_key)
    theirs = model.generate({"input": "Name three rivers.", "max_new_tokens": 12})
    # The emulator gives the native route and chat the same words for the same input.
    mine = ours.chat.completions.create(
        model=TEXT_MODEL,
        messages=[{"role": "user", "content": "Name three rivers."}],
        max_tokens=12,
    )
    # 0.3.0's tolerant_dataclass leaves the nested results as dicts.
    assert theirs.results[0]["generated_text"] == mine.text
    assert theirs.num_tokens == 12
    assert theirs.inference_status["status"] == "succeeded"


def test_embeddings(emu: Emulator, ours: DeepInfraClient) -> None:
    model = deepinfra.Embeddings(endpoint(emu, EMBED_MODEL), auth_token=emu.api_key)
    texts = ["one river", "two mountains"]
    theirs = model.generate({"inputs": texts})
    mine = ours.embeddings.create(model=EMBED_MODEL, input=texts)
    for their, my in zip(theirs.embeddings, mine.data):
        assert their == pytest.approx(my.embedding, abs=1e-7)
    assert mine.usage is not None
    assert theirs.input_tokens == mine.usage.prompt_tokens


def test_text_to_image(emu: Emulator, ours: DeepInfraClient) -> None:
    model = deepinfra.TextToImage(endpoint(emu, IMAGE_MODEL), auth_token=emu.api_key)
    theirs = model.generate({"prompt": "a red fox", "width": 256, "height": 256, "seed": 5})
    mine = ours.images.generate("a red fox", model=IMAGE_MODEL, width=256, height=256, seed=5)
    (image,) = theirs.images
    header, _, data = image.partition(",")
    assert header == "data:image/png;base64"
    assert base64.b64decode(data) == mine.image_bytes(0)
