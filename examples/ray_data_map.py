"""Answer many prompts with Ray Data, one SDK client per actor.

python examples/ray_data_map.py     # DEEPINFRA_API_KEY (and DEEPINFRA_BASE_URL, if set) as usual

`map_batches` sends the client to each actor pickled, as its configuration (key, base URL,
timeouts, retry policy); each actor rebuilds it once, with its own connection pool, and
reuses it for every batch. Needs `pip install "ray[data]"`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from deepinfra_sdk import DEFAULT_MODEL, DeepInfraClient


class Answerer:
    """The per-actor callable: answers the prompts of one batch with the actor's client."""

    def __init__(self, client: DeepInfraClient, model: str = DEFAULT_MODEL) -> None:
        self.client = client
        self.model = model

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        answers = []
        for prompt in batch["prompt"]:
            completion = self.client.chat.completions.create(
                model=self.model, messages=[{"role": "user", "content": str(prompt)}]
            )
            answers.append(completion.choices[0].message.content or "")
        return {"index": batch["index"], "answer": answers}


def map_prompts(
    client: DeepInfraClient,
    prompts: Sequence[str],
    *,
    model: str = DEFAULT_MODEL,
    actors: int = 2,
    batch_size: int = 8,
) -> list[str]:
    """The answers to ``prompts``, in their order, computed by ``actors`` Ray actors."""
    import ray

    items = [{"index": i, "prompt": p} for i, p in enumerate(prompts)]
    answered = ray.data.from_items(items).map_batches(
        Answerer,
        fn_constructor_kwargs={"client": client, "model": model},
        compute=ray.data.ActorPoolStrategy(size=actors),
        batch_size=batch_size,
    )
    # Ray Data does not keep row order by default: put the answers back in prompt order.
    rows = sorted(answered.take_all(), key=lambda row: int(row["index"]))
    return [str(row["answer"]) for row in rows]


def main() -> None:
    """Answer a few prompts on a local Ray instance and print them."""
    import ray

    prompts = ["Name a colour.", "Name a fruit.", "Name a city.", "Name a river."]
    ray.init()
    try:
        with DeepInfraClient() as client:
            for prompt, text in zip(prompts, map_prompts(client, prompts)):
                print(f"{prompt} -> {text}")
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
