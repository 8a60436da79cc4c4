"""Answer many prompts on a Dask cluster, one SDK client per worker process.

python examples/dask_map.py     # DEEPINFRA_API_KEY (and DEEPINFRA_BASE_URL, if set) as usual

A DeepInfraClient pickles as its configuration (key, base URL, timeouts, retry policy) and
opens its connections where it is unpickled. `map_prompts` scatters the client once to every
worker: each worker process rebuilds it with its own connection pool, and every task that
worker runs reuses those connections. Needs `pip install "dask[distributed]"`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from deepinfra_sdk import DEFAULT_MODEL, ChatCompletion, DeepInfraClient

if TYPE_CHECKING:
    from distributed import Client, LocalCluster


def answer(client: DeepInfraClient, prompt: str, model: str) -> ChatCompletion:
    """One prompt's completion; runs in a worker, with that worker's copy of the client."""
    return client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": prompt}]
    )


def map_prompts(
    dask_client: Client,
    client: DeepInfraClient,
    prompts: Sequence[str],
    *,
    model: str = DEFAULT_MODEL,
) -> list[ChatCompletion]:
    """The completions of ``prompts``, in their order, computed on the cluster's workers."""
    # Sent once per worker, not once per task: tasks on a worker share its connections.
    # hash=False: a fresh key per call (a content-hashed key could meet the previous call's
    # copy of the same client while the scheduler is still releasing it).
    [remote_client] = dask_client.scatter([client], broadcast=True, hash=False)
    # pure=False: two equal prompts are two requests (a sampled answer is not a pure function).
    futures = dask_client.map(
        answer, [remote_client] * len(prompts), prompts, model=model, pure=False
    )
    completions: list[ChatCompletion] = dask_client.gather(futures)
    return completions


def local_cluster() -> LocalCluster:
    """Two worker processes with one thread each on this machine (no dashboard)."""
    from distributed import LocalCluster

    return LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)


def main() -> None:
    """Answer a few prompts on a local cluster and print the answers and their cost."""
    from distributed import Client

    prompts = ["Name a colour.", "Name a fruit.", "Name a city.", "Name a river."]
    with DeepInfraClient() as client, local_cluster() as cluster, Client(cluster) as dask_client:
        completions = map_prompts(dask_client, client, prompts)
    for prompt, completion in zip(prompts, completions):
        print(f"{prompt} -> {completion.choices[0].message.content}")
    cost = sum((c.usage.estimated_cost or 0.0) for c in completions if c.usage)
    print(f"estimated cost: ${cost:.6f}")


if __name__ == "__main__":  # needed: worker processes are spawned and import this module
    main()
