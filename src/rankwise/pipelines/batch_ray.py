"""The Ray engine of batch jobs: shards are scored on a pool of Ray actors, each holding one loaded
reranker (loaded once per actor, not per shard), locally or on a cluster (`address`). The driver keeps at
most two shards per actor in flight, so memory stays bounded whatever the input's size, and it alone writes
the output, through the same atomic shard files and manifest as the local engine: a killed driver resumes
exactly like a local job, and the bytes are the same. An actor that dies is restarted and its shard
retried by Ray (`max_restarts`, `max_task_retries`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rankwise.errors import InputError, UnsupportedMethodError


@contextmanager
def ray_pool(workers: int, address: str | None) -> Iterator[tuple[Any, int]]:
    """Ray, started here unless it already runs (and then shut down on leaving), and the CPUs each of
    `workers` actors gets. Ray gives an actor one CPU and sets its thread count to 1 unless told otherwise:
    each actor gets its share of the CPUs (1 worker on 2 cores ran at half the plain path's speed)."""
    try:
        import ray
    except ImportError:
        raise UnsupportedMethodError("the Ray engine needs Ray: pip install 'rankwise[ray]'") from None
    if workers < 1:
        raise InputError(f"workers must be >= 1, got {workers}")
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        yield ray, max(1, int(ray.cluster_resources().get("CPU", 1)) // workers)
    finally:
        if started_here:
            ray.shutdown()


def run_on_ray(
    reranker: Any,
    shards: Iterator[Any],
    done: Callable[[Any, str], None],
    settings: dict[str, Any],
    workers: int = 1,
    address: str | None = None,
) -> None:
    from rankwise.rerankers.compose.spec import RerankerSpec

    if not isinstance(reranker, RerankerSpec):
        raise InputError(
            "the Ray engine loads the reranker in each worker: give a RerankerSpec (model, method, "
            "options), not a loaded reranker"
        )
    with ray_pool(workers, address) as (ray, cpus):
        _score_shards(ray, cpus, reranker, shards, done, settings, workers)


def _score_shards(
    ray: Any,
    cpus: int,
    reranker: Any,
    shards: Iterator[Any],
    done: Callable[[Any, str], None],
    settings: dict[str, Any],
    workers: int,
) -> None:
    from rankwise.pipelines.rerank import shard_run_text
    from rankwise.rerankers.compose.spec import RerankerSpec

    worker_spec = RerankerSpec(
        reranker.model, reranker.method, {**reranker.options, "threads": reranker.options.get("threads") or cpus}
    )

    @ray.remote(num_cpus=cpus, max_restarts=2, max_task_retries=2)
    class ShardWorker:
        def __init__(self, spec: RerankerSpec):
            from rankwise.rerankers.registry import load_spec

            self.reranker = load_spec(spec)

        def score(self, requests: list, top_k: int | None, tag: str, queries_per_batch: int) -> str:
            return shard_run_text(self.reranker, requests, top_k, tag, queries_per_batch)

    actors = [ShardWorker.remote(worker_spec) for _ in range(workers)]
    load = [0] * workers  # shards in flight per actor: a new shard goes to the least busy one
    in_flight: dict[Any, tuple[Any, int]] = {}  # object ref -> (shard, actor)
    exhausted = False
    while in_flight or not exhausted:
        while not exhausted and len(in_flight) < 2 * workers:
            shard = next(shards, None)
            if shard is None:
                exhausted = True
                break
            chosen = load.index(min(load))
            load[chosen] += 1
            ref = actors[chosen].score.remote(
                shard.requests, settings["top_k"], settings["tag"], settings["queries_per_batch"]
            )
            in_flight[ref] = (shard, chosen)
        if not in_flight:
            break
        ready, _ = ray.wait(list(in_flight), num_returns=1)
        shard, chosen = in_flight.pop(ready[0])
        load[chosen] -= 1
        done(shard, ray.get(ready[0]))
