"""Quick start: list models, stream a chat answer, save an image.

python examples/quickstart.py --local     # against the embedded emulator, no key needed
python examples/quickstart.py             # against DeepInfra (DEEPINFRA_API_KEY)
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator

from deepinfra_sdk import DEFAULT_IMAGE_MODEL, DEFAULT_MODEL, DeepInfraClient


@contextlib.contextmanager
def make_client(local: bool) -> Iterator[DeepInfraClient]:
    """A client for the local emulator (started here) or for the real API."""
    if not local:
        with DeepInfraClient() as client:
            yield client
        return
    from deepinfra_sdk.emulator import Emulator

    with (
        Emulator(token_delay=0.02) as emu,
        DeepInfraClient(emu.api_key, base_url=emu.url) as client,
    ):
        yield client


def main(argv: list[str] | None = None) -> int:
    """Run the tour; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--local", action="store_true", help="use the embedded emulator")
    parser.add_argument("--out", default="quickstart.png", help="where to save the image")
    args = parser.parse_args(argv)

    with make_client(args.local) as client:
        print("text models: ", ", ".join(client.models.text_models()[:3]), "...")
        print("image models:", ", ".join(client.models.image_models()[:3]), "...")

        messages = [{"role": "user", "content": "Write a short poem about spring."}]
        with client.chat.completions.create(
            model=DEFAULT_MODEL, messages=messages, stream=True
        ) as stream:
            for text in stream.iter_text():
                print(text, end="", flush=True)
        print()
        if stream.usage is not None:
            usage = stream.usage
            print(f"tokens: {usage.total_tokens}, cost: ${usage.estimated_cost or 0:.6f}")

        image = client.images.generate(
            "A futuristic cityscape at sunset", model=DEFAULT_IMAGE_MODEL
        )
        for path in image.save(args.out):
            print("saved", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
