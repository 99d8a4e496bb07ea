"""Passages to write queries for when a corpus has no queries at all (DUQGen, Chandradevan et al., SIGIR
2024): the corpus's passage vectors (a forward index, `rankwise index --encode`) clustered with k-means,
passages sampled across every cluster so the synthetic queries cover the corpus's topics rather than its
commonest one, and each sampled passage given a pool, its nearest passages by cosine (the same topic: the
round trip's competitors and the training group's hard negatives).

DUQGen samples within a cluster with a probability that falls with the distance to its centroid; here a
cluster's `per_cluster` passages are drawn among its `representative` share closest to the centroid, the same
idea without a temperature to tune. The pools are `QueryGroup`s, so the existing generation and round trip
(`synthetic.py`) run on them unchanged."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from rankwise.errors import InputError
from rankwise.io.forward_index import ForwardIndex
from rankwise.options import check_declared, option
from rankwise.pipelines.train.data import PooledDoc, QueryGroup
from rankwise.pipelines.train.synthetic import SourcePassage
from rankwise.types import Candidate

CORPUS_COLLECTION = "corpus"


@dataclass
class CorpusSampling:
    clusters: int = option(50, minimum=1, help="k-means clusters over the passage vectors")
    per_cluster: int = option(4, minimum=1, help="passages sampled from each cluster")
    representative: float = option(
        0.5, minimum=0.01, maximum=1, help="a cluster's passages are drawn among this share closest to its centroid"
    )
    pool_size: int = option(30, minimum=2, help="a sampled passage's pool: itself and its nearest passages")
    seed: int = option(0, help="seed of the clustering and the sampling")

    def __post_init__(self) -> None:
        check_declared(self, "corpus sampling")


@dataclass
class CorpusSample:
    groups: list[QueryGroup]  # one pool per sampled passage, qid = the passage's sample id
    sources: list[SourcePassage]
    cluster_sizes: list[int]


def corpus_vectors(documents: Sequence[Candidate], index: ForwardIndex):  # -> np.ndarray
    """The documents' unit passage vectors from the index; a document it lacks (or holds for another text)
    is refused: sampling by vectors the corpus does not have would cluster another corpus."""
    import numpy as np

    found = index.lookup([d.docid for d in documents], [d.text for d in documents])
    if found.missing:
        first = documents[found.missing[0]].docid
        raise InputError(
            f"the forward index lacks {len(found.missing)} of the corpus's {len(documents)} passages (first: "
            f"{first!r}); build it over this corpus with `rankwise index --corpus FILE --encode MODEL`",
            source=str(index.folder),
        )
    vectors = np.asarray(found.pooled, dtype=np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def sample_corpus(documents: Sequence[Candidate], vectors, config: CorpusSampling) -> CorpusSample:
    """Cluster, sample across clusters, and pool each sampled passage with its nearest neighbours."""
    import numpy as np
    from sklearn.cluster import MiniBatchKMeans

    if len(documents) < config.pool_size:
        raise InputError(f"the corpus has {len(documents)} passages, fewer than pool_size={config.pool_size}")
    clusters = min(config.clusters, len(documents))
    kmeans = MiniBatchKMeans(n_clusters=clusters, random_state=config.seed, n_init=3, batch_size=2048)
    assignment = kmeans.fit_predict(vectors)
    distances = np.linalg.norm(vectors - kmeans.cluster_centers_[assignment], axis=1)
    rng = random.Random(config.seed)
    picked: list[int] = []
    sizes = []
    for cluster in range(clusters):
        members = np.flatnonzero(assignment == cluster)
        sizes.append(len(members))
        if not len(members):
            continue
        closest = members[np.argsort(distances[members], kind="stable")]
        head = closest[: max(config.per_cluster, int(np.ceil(len(closest) * config.representative)))]
        picked += sorted(rng.sample(list(map(int, head)), min(config.per_cluster, len(head))))
    groups, sources = [], []
    for start in range(0, len(picked), 256):  # nearest neighbours in chunks: sources x corpus similarities
        chunk = picked[start : start + 256]
        similarities = vectors[chunk] @ vectors.T
        for row, source in zip(similarities, chunk):
            row[source] = np.inf  # the source heads its own pool
            nearest = np.argsort(-row, kind="stable")[: config.pool_size]
            document = documents[source]
            qid = f"{CORPUS_COLLECTION}:{document.docid}"
            docs = [
                PooledDoc(documents[i].docid, documents[i].text, None, {"cosine": rank + 1}, {})
                for rank, i in enumerate(nearest)
            ]
            groups.append(QueryGroup(CORPUS_COLLECTION, qid, "", docs))
            sources.append(SourcePassage(f"{qid}:{document.docid}", qid, document.docid, document.text))
    return CorpusSample(groups, sources, sizes)
