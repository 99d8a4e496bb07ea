"""The Ray engine of forward-index builds: chunks of passages encoded on a pool of Ray actors, each holding
one encoder (opened once per actor), locally or on a cluster (`address`).

Results come back to the driver in chunk order (the driver buffers a chunk that finishes before an earlier
one; at most two chunks per actor are in flight, so memory stays bounded), and the driver alone writes
them through the index writer: every chunk is written once, by one process, and a killed driver resumes
from the manifest like a local build. An actor that dies is restarted and its chunk retried by Ray
(`max_restarts`, `max_task_retries`). Each chunk is encoded exactly as a local build encodes it, so at the
same thread count the files are the same bytes."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any


def encoded_on_ray(
    model: str,
    runtime_options: dict[str, Any],
    token_vectors: bool,
    chunks: Iterable[list[str]],
    workers: int = 1,
    address: str | None = None,
) -> Iterator[tuple[Any, Any]]:
    """Each chunk's (pooled, token vectors), in the order of `chunks`."""
    from rankwise.pipelines.batch_ray import ray_pool

    with ray_pool(workers, address) as (ray, cpus):
        yield from _encode_chunks(ray, cpus, model, runtime_options, token_vectors, chunks, workers)


def _encode_chunks(
    ray: Any,
    cpus: int,
    model: str,
    runtime_options: dict[str, Any],
    token_vectors: bool,
    chunks: Iterable[list[str]],
    workers: int,
) -> Iterator[tuple[Any, Any]]:
    options = {**runtime_options, "threads": runtime_options.get("threads") or cpus}

    @ray.remote(num_cpus=cpus, max_restarts=2, max_task_retries=2)
    class ChunkEncoder:
        def __init__(self, model: str, options: dict[str, Any], token_vectors: bool):
            from rankwise.backends.registry import locate, split_options
            from rankwise.pipelines.index import open_encoder

            runtime, _ = split_options(options)
            self.encoder = open_encoder(locate(model, runtime.backend), runtime, token_vectors)
            self.token_vectors = token_vectors

        def encode(self, texts: list[str]) -> tuple[Any, Any]:
            from rankwise.pipelines.index import encode_chunk

            return encode_chunk(self.encoder, texts, self.token_vectors)

    actors = [ChunkEncoder.remote(model, options, token_vectors) for _ in range(workers)]
    load = [0] * workers
    in_flight: dict[Any, tuple[int, int]] = {}  # object ref -> (chunk number, actor)
    finished: dict[int, tuple[Any, Any]] = {}
    source, submitted, next_out, exhausted = iter(chunks), 0, 0, False
    while True:
        while not exhausted and len(in_flight) + len(finished) < 2 * workers:
            texts = next(source, None)
            if texts is None:
                exhausted = True
                break
            chosen = load.index(min(load))
            load[chosen] += 1
            in_flight[actors[chosen].encode.remote(texts)] = (submitted, chosen)
            submitted += 1
        while next_out in finished:
            yield finished.pop(next_out)
            next_out += 1
        if not in_flight:
            if exhausted and not finished:
                return
            continue
        ready, _ = ray.wait(list(in_flight), num_returns=1)
        number, chosen = in_flight.pop(ready[0])
        load[chosen] -= 1
        finished[number] = ray.get(ready[0])
