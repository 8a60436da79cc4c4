"""A program written against gpt4free's ``g4f/Provider/needs_auth/DeepInfra.py`` (2025).

It is the seed's usage example (shared/seeds/000_*.txt) followed by the original's documented
calls, as their authors wrote them. Only the import line differs from the original program,
whose imports were::

    from g4f.Provider.needs_auth.DeepInfra import DeepInfra
    from g4f.typing import Messages

tests/provider_compat/test_g4f_program.py runs it against the emulator.
"""

import asyncio
import os

from deepinfra_sdk.provider import DeepInfra, Messages


async def main():
    # The seed's example: text generation with the default model.
    messages: Messages = [{"role": "user", "content": "Напиши короткий стих о весне."}]  # noqa: RUF001
    model = DeepInfra.default_model
    async for chunk in DeepInfra.create_async_generator(
        model=model, messages=messages, stream=True
    ):
        print(chunk, end="")
    print()

    # The model lists, split as the original split them.
    print("models:", len(DeepInfra.get_models()))
    print("image models:", DeepInfra.get_image_models())

    # An image model through create_async_generator: since 2025-01 the original yielded
    # the image coroutine, and its callers awaited the chunk.
    image_model = DeepInfra.get_image_models()[0]
    async for chunk in DeepInfra.create_async_generator(
        image_model, [{"role": "user", "content": "a red fox"}]
    ):
        image = await chunk
        print(image.alt, len(image.get_list()))

    # The seed's commented image example, with the 2025 extra_body argument.
    prompt = "A futuristic cityscape at sunset"
    model = "stabilityai/sd3.5"
    api_key = os.environ["DEEPINFRA_API_KEY"]
    image_response = await DeepInfra.create_async_image(
        prompt, model, api_key=api_key, extra_body={"width": 512, "height": 256}
    )
    print(f"Image URL: {image_response.images[0][:22]}")
    print(str(image_response)[:60])
    print(image_response.get("seed") is not None, image_response.options.get("model"))

    # The older extra_data name (before 2025-05), and printing the image as the original's
    # chat loops did: markdown.
    image_response = await DeepInfra.create_async_image(
        prompt, "black-forest-labs/FLUX-1.1-pro", api_key=api_key, extra_data={"seed": 7}
    )
    print(image_response)

    # A non-streamed answer, with the original's defaults passed explicitly.
    async for chunk in DeepInfra.create_async_generator(
        DeepInfra.model_aliases["llama-3.1-70b"],
        messages,
        stream=False,
        temperature=0.7,
        max_tokens=1028,
    ):
        print(len(chunk.split()), "words")
    print(DeepInfra.label, DeepInfra.get_model("llama-3.3-70b"))


if __name__ == "__main__":
    asyncio.run(main())
