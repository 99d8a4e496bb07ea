"""Forward indexes: passage vectors stored once and looked up by embedding, embedding-prf and maxsim."""

from __future__ import annotations

import pytest

from conftest import FLEA_QUERY
from rankwise import Reranker
from rankwise.errors import InputError
from rankwise.io.forward_index import ForwardIndex
from rankwise.pipelines.index import build_forward_index
from rankwise.types import Candidate


@pytest.fixture(scope="module")
def built(tmp_path_factory, flea_docs):
    folder = tmp_path_factory.mktemp("forward") / "f32"
    build_forward_index(flea_docs, folder, "minilm-embed", token_vectors=True, chunk_size=3)
    return folder


@pytest.mark.parametrize("method", ["embedding", "embedding-prf", "maxsim"])
def test_index_scores_equal_on_the_fly_scores_in_float32(built, flea_docs, method):
    on_the_fly = Reranker.load("minilm-embed", method=method).rerank(FLEA_QUERY, flea_docs)
    indexed = Reranker.load("minilm-embed", method=method, index=str(built)).rerank(FLEA_QUERY, flea_docs)
    assert [r.docid for r in indexed.results] == [r.docid for r in on_the_fly.results]
    # Bits past 1e-6 depend on which texts shared a padded batch.
    assert [r.score for r in indexed.results] == pytest.approx([r.score for r in on_the_fly.results], abs=1e-6)
    assert indexed.trace["index"] == {"from_index": len(flea_docs), "encoded": 0, "stale": 0}


def test_missing_and_changed_candidates_are_encoded_and_counted(built, flea_docs):
    reranker = Reranker.load("minilm-embed", method="embedding", index=str(built))
    changed = Candidate(docid=flea_docs[0].docid, text=flea_docs[0].text + " (edited)")
    extra = Candidate(docid="not-indexed", text="Adult fleas live two to three months on a host.")
    candidates = [changed, *flea_docs[1:], extra]
    ranking = reranker.rerank(FLEA_QUERY, candidates)
    assert ranking.trace["index"] == {"from_index": len(flea_docs) - 1, "encoded": 2, "stale": 1}
    plain = Reranker.load("minilm-embed", method="embedding").rerank(FLEA_QUERY, candidates)
    assert {r.docid: round(r.score, 5) for r in ranking.results} == {r.docid: round(r.score, 5) for r in plain.results}


def test_a_killed_build_resumes_to_identical_files(tmp_path, flea_docs, built):
    class Killed(Exception):
        pass

    encoded = []

    def kill_after_two_chunks(advance, total=None, note=""):
        encoded.append(advance)
        if sum(encoded) >= 6:
            raise Killed

    folder = tmp_path / "killed"
    with pytest.raises(Killed):
        build_forward_index(
            flea_docs, folder, "minilm-embed", token_vectors=True, chunk_size=3, on_progress=kill_after_two_chunks
        )
    assert len(ForwardIndex(folder)) == 6 and not ForwardIndex(folder).complete
    with pytest.raises(InputError, match="partial forward index is already here; pass --resume"):
        build_forward_index(flea_docs, folder, "minilm-embed", token_vectors=True, chunk_size=3)
    build_forward_index(flea_docs, folder, "minilm-embed", token_vectors=True, chunk_size=3, resume=True)
    names = sorted(p.name for p in built.iterdir())
    assert names == sorted(p.name for p in folder.iterdir())
    for name in names:
        assert (folder / name).read_bytes() == (built / name).read_bytes(), name


def test_resume_over_a_different_build_is_refused(tmp_path, flea_docs):
    folder = tmp_path / "idx"
    build_forward_index(flea_docs[:4], folder, "minilm-embed", chunk_size=2)
    with pytest.raises(
        InputError,
        match=r"--resume over an index built differently \(dtype: 'float32' there, "
        r"'float16' now",
    ):
        build_forward_index(flea_docs[:4], folder, "minilm-embed", dtype="float16", chunk_size=2, resume=True)


def test_an_index_from_another_encoder_or_without_token_vectors_is_refused(tmp_path, flea_docs):
    folder = tmp_path / "prefixed"
    build_forward_index(flea_docs[:3], folder, "minilm-embed", passage_prefix="passage: ")
    with pytest.raises(
        InputError,
        match=r"built by another encoder \(passage_prefix: 'passage: ' in the index, "
        r"'' here\)",
    ):
        Reranker.load("minilm-embed", method="embedding", index=str(folder))
    with pytest.raises(InputError, match="this index has none; rebuild it with .*--token-vectors"):
        Reranker.load("minilm-embed", method="maxsim", passage_prefix="passage: ", index=str(folder))
    with pytest.raises(InputError, match="not a forward index"):
        Reranker.load("minilm-embed", method="embedding", index=str(tmp_path))


@pytest.mark.parametrize("dtype", ["float16", "int8"])
def test_quantized_indexes_keep_scores_close(tmp_path, flea_docs, dtype):
    folder = tmp_path / dtype
    build_forward_index(flea_docs, folder, "minilm-embed", dtype=dtype)
    exact = Reranker.load("minilm-embed", method="embedding").rerank(FLEA_QUERY, flea_docs)
    quantized = Reranker.load("minilm-embed", method="embedding", index=str(folder)).rerank(FLEA_QUERY, flea_docs)
    by_id = {r.docid: r.score for r in exact.results}
    worst = max(abs(r.score - by_id[r.docid]) for r in quantized.results)
    assert 0 < worst < (1e-3 if dtype == "float16" else 2e-2)


def scored_fleas(flea_docs):
    # A first stage that disagrees with the encoder, so that interpolation and early stopping have work to do.
    return [Candidate(docid=d.docid, text=d.text, score=float((7 * i) % 11)) for i, d in enumerate(flea_docs)]


def test_fast_forward_interpolates_first_stage_and_cosine(built, flea_docs):
    candidates = scored_fleas(flea_docs)
    cosine = {
        r.docid: r.score
        for r in Reranker.load("minilm-embed", method="embedding").rerank(FLEA_QUERY, candidates).results
    }
    ranking = Reranker.load("minilm-embed", method="fast-forward", alpha=0.2, index=str(built)).rerank(
        FLEA_QUERY, candidates
    )
    expected = {c.docid: 0.2 * c.score + 0.8 * cosine[c.docid] for c in candidates}
    assert {r.docid: r.score for r in ranking.results} == pytest.approx(expected, abs=1e-6)
    assert ranking.trace["index"]["from_index"] == len(candidates)


def test_fast_forward_exact_early_stopping_keeps_the_full_top_k_and_saves_lookups(built, flea_docs):
    candidates = scored_fleas(flea_docs)
    full = Reranker.load("minilm-embed", method="fast-forward", alpha=0.5).rerank(FLEA_QUERY, candidates)
    stopped = Reranker.load(
        "minilm-embed", method="fast-forward", alpha=0.5, early_stop_k=2, early_stop_step=2, index=str(built)
    ).rerank(FLEA_QUERY, candidates)
    assert [r.docid for r in stopped.results[:2]] == [r.docid for r in full.results[:2]]
    saved = stopped.trace["early_stopping"]["lookups_saved"]
    assert saved > 0 and stopped.trace["index"]["from_index"] == len(candidates) - saved
    assert len(stopped.results) == len(candidates)


class FixedVectors:
    """An Embedder whose vectors are given: the reference file's seeded query and passage vectors."""

    backend_name, capabilities, max_length, pooling = "fixed", frozenset(), 512, ("mean",)

    def __init__(self, vectors):
        self.vectors = vectors

    def embed_unit(self, texts):
        import numpy as np

        return np.array([self.vectors[t] for t in texts], dtype=np.float32)


@pytest.mark.parametrize("early_stop", [False, True])
def test_fast_forward_equals_the_authors_package(early_stop):
    """Against fast-forward-indexes 0.8.0 (`tests/reference/fast_forward_indexes.py`, run in its own venv):
    `Ranking.interpolate` of its index's scores, and its early stopping with the observed bound."""
    import json
    from pathlib import Path

    from rankwise.rerankers.embedding.fast_forward import FastForwardReranker
    from rankwise.types import Query, Request

    ref = json.loads((Path(__file__).parent / "reference" / "fast_forward_indexes.json").read_text())
    assert ref["library"] == "fast-forward-indexes 0.8.0"
    vectors = {f"query q{q}": v for q, v in enumerate(ref["queries"])}
    vectors.update(zip((d for row in ref["docids"] for d in row), ref["passages"]))
    step = ref["depths"][0]
    reranker = FastForwardReranker.build(
        FixedVectors(vectors),
        "fixed",
        alpha=ref["alpha"],
        early_stop_k=ref["early_stopping"] if early_stop else 0,
        early_stop_step=step,
        early_stop_bound="observed",
    )
    requests = [
        Request(Query(f"q{q}", f"query q{q}"), [Candidate(d, d, score=s) for d, s in zip(docids, sparse)])
        for q, (docids, sparse) in enumerate(zip(ref["docids"], ref["sparse"]))
    ]
    key = "early_stopping_interpolated" if early_stop else "interpolated"
    for request, ranking in zip(requests, reranker.rerank_batch(requests)):
        expected = ref[key][request.query.qid]
        got = {r.docid: r.score for r in ranking.results}
        if not early_stop:
            assert got == pytest.approx(expected, abs=1e-5)
            continue
        # The package returns only what it scored (the rest interpolate with a dense score of 0); rankwise
        # scores the same candidates and puts the others below them with a cosine bound of -1.
        scored = set(ref["early_stopping_dense"][request.query.qid])
        assert ranking.trace["early_stopping"]["scored"] == len(scored)
        assert {d: got[d] for d in scored} == pytest.approx({d: expected[d] for d in scored}, abs=1e-5)
        k = ref["early_stopping"]
        top = sorted(scored, key=lambda d: -expected[d])[:k]
        assert [r.docid for r in ranking.results[:k]] == top


def test_fast_forward_needs_first_stage_scores(flea_docs):
    reranker = Reranker.load("minilm-embed", method="fast-forward")
    with pytest.raises(InputError, match="interpolates with the first stage's scores; candidate .* has none"):
        reranker.rerank(FLEA_QUERY, flea_docs)


def test_cli_builds_bm25_and_forward_index_and_reranks_from_it(tmp_path):
    import json

    from typer.testing import CliRunner

    from conftest import EXAMPLES
    from rankwise.cli import app

    runner = CliRunner()
    out = tmp_path / "idx"
    built = runner.invoke(
        app,
        [
            "index",
            "--corpus",
            str(EXAMPLES / "fleas.jsonl"),
            "--out",
            str(out),
            "--encode",
            "minilm-embed",
            "--dtype",
            "float16",
            "--chunk-size",
            "4",
        ],
    )
    assert built.exit_code == 0, built.output
    assert "KiB per passage" in built.output and (out / "forward" / "manifest.json").is_file()
    again = runner.invoke(
        app, ["index", "--corpus", str(EXAMPLES / "fleas.jsonl"), "--out", str(out), "--encode", "minilm-embed"]
    )
    assert again.exit_code != 0 and "already here; pass --resume" in again.output
    reranked = runner.invoke(
        app,
        [
            "rerank",
            "-m",
            "minilm-embed",
            "-O",
            f"index={out}",
            "-q",
            FLEA_QUERY,
            "--docs",
            str(EXAMPLES / "fleas.jsonl"),
            "--top-n",
            "3",
        ],
    )
    assert reranked.exit_code == 0, reranked.output
    manifest = json.loads((out / "forward" / "manifest.json").read_text())
    assert manifest["complete"] and manifest["dtype"] == "float16"


def test_the_service_looks_documents_up_by_their_ids(built, flea_docs):
    """Over HTTP, documents that all carry ids are looked up in the index the model was served with; plain
    strings are named by position, so they are encoded (and score the same)."""
    import httpx

    from rankwise.server import ServerSettings, create_app
    from server_helpers import threaded_server

    reranker = Reranker.load("minilm-embed", method="embedding", index=str(built))
    encoded: list[int] = []
    embed_unit = reranker.encoder.embed_unit
    reranker.encoder.embed_unit = lambda texts: (encoded.append(len(texts)), embed_unit(texts))[1]
    expected = {r.docid: r.score for r in reranker.rerank(FLEA_QUERY, flea_docs).results}
    with threaded_server(create_app(reranker, ServerSettings(model_name="minilm-embed"))) as base:
        encoded.clear()
        with_ids = httpx.post(
            f"{base}/v2/rerank",
            timeout=60,
            json={"query": FLEA_QUERY, "documents": [{"id": d.docid, "text": d.text} for d in flea_docs]},
        ).json()
        assert encoded == [1]  # the query only
        encoded.clear()
        plain = httpx.post(
            f"{base}/v2/rerank",
            timeout=60,
            json={"query": FLEA_QUERY, "documents": [d.text for d in flea_docs], "return_documents": False},
        ).json()
        assert sum(encoded) == 1 + len(flea_docs)
    order = sorted(expected, key=lambda d: -expected[d])
    assert [flea_docs[r["index"]].docid for r in with_ids["results"]] == order
    assert [r["index"] for r in plain["results"]] == [r["index"] for r in with_ids["results"]]
    cosine = {flea_docs[r["index"]].docid: 2 * r["relevance_score"] - 1 for r in with_ids["results"]}
    assert cosine == pytest.approx(expected, abs=1e-6)


def test_a_fusion_model_gives_the_index_to_its_stages(built, flea_docs):
    candidates = scored_fleas(flea_docs)
    plain = Reranker.load("minilm-maxsim-fusion-dl21").rerank(FLEA_QUERY, candidates)
    fused = Reranker.load("minilm-maxsim-fusion-dl21", index=str(built))
    assert all(stage.passages.index is not None for stage in fused.stages)
    indexed = fused.rerank(FLEA_QUERY, candidates)
    assert indexed.docids == plain.docids
    assert [r.score for r in indexed] == pytest.approx([r.score for r in plain], abs=1e-6)


def test_a_fusion_without_vector_stages_refuses_an_index(tmp_path, built):
    import json
    import shutil

    from rankwise.models import resolve_model

    folder = tmp_path / "fusion"
    shutil.copytree(resolve_model("minilm-maxsim-fusion-dl21").path, folder)
    spec = json.loads((folder / "fusion.json").read_text())
    spec["stages"] = [{"name": "likelihood", "model": "smollm2-135m", "method": "query-likelihood"}]
    (folder / "fusion.json").write_text(json.dumps(spec))
    with pytest.raises(InputError, match=r"none of this fusion model's stages \(likelihood\) reads passage vectors"):
        Reranker.load(str(folder), index=str(built))


def test_the_service_hands_document_scores_to_fast_forward(built, flea_docs):
    import httpx

    from rankwise.server import ServerSettings, create_app
    from server_helpers import threaded_server

    candidates = scored_fleas(flea_docs)
    reranker = Reranker.load("minilm-embed", method="fast-forward", alpha=0.2, index=str(built))
    expected = reranker.rerank(FLEA_QUERY, candidates)
    documents = [{"id": c.docid, "text": c.text, "score": c.score} for c in candidates]
    with threaded_server(create_app(reranker, ServerSettings(model_name="minilm-embed"))) as base:
        answer = httpx.post(f"{base}/v2/rerank", timeout=60, json={"query": FLEA_QUERY, "documents": documents})
        unscored = httpx.post(
            f"{base}/v2/rerank", timeout=60, json={"query": FLEA_QUERY, "documents": [c.text for c in candidates]}
        )
    assert answer.status_code == 200
    assert [candidates[r["index"]].docid for r in answer.json()["results"]] == expected.docids
    assert unscored.status_code == 422 and "has none" in unscored.json()["error"]


def _synthetic_index(folder, docids, texts, chunk_size=3, dtype="float32", finish=True):
    import numpy as np

    from rankwise.io.forward_index import ForwardIndexWriter, IndexSettings, text_digest

    settings = IndexSettings(encoder={"model": "synthetic"}, dim=4, dtype=dtype, chunk_size=chunk_size)
    writer = ForwardIndexWriter(folder, settings, "fp", len(docids))
    vectors = np.arange(len(docids) * 4, dtype=np.float32).reshape(-1, 4)
    for start in range(0, len(docids), chunk_size):
        part = slice(start, start + chunk_size)
        writer.write_chunk(docids[part], [text_digest(t) for t in texts[part]], vectors[part])
    if finish:
        writer.finish()
    return vectors


def test_an_index_is_looked_up_through_its_key_tables_without_reading_docid_lists(tmp_path):
    """A finished index answers from its memory-mapped sorted key table: the docid lists are not read (here
    deleted), a docid indexed twice answers with its later row, and a changed text is still caught."""
    import numpy as np

    from rankwise.io.forward_index import ForwardIndex

    docids = ["d0", "d1", "d2", "d3", "d4", "d1"]
    texts = ["t0", "t1-old", "t2", "t3", "t4", "t1"]
    vectors = _synthetic_index(tmp_path / "ix", docids, texts)
    for listing in (tmp_path / "ix").glob("*.docids.json"):
        listing.unlink()
    index = ForwardIndex(tmp_path / "ix")
    assert isinstance(index._keys, np.memmap) and len(index) == 5
    found = index.lookup(["d4", "d1", "nope", "d2"], ["t4", "t1", "x", "changed"])
    assert found.missing == [2, 3] and found.stale_positions == [3]
    assert found.pooled[0].tolist() == vectors[4].tolist() and found.pooled[1].tolist() == vectors[5].tolist()


def test_partial_and_older_indexes_are_still_read(tmp_path):
    """A partial index sorts its chunks' keys at open; one written before the key arrays derives them from
    its docid lists."""
    import json

    from rankwise.io.forward_index import ForwardIndex

    docids, texts = [f"d{i}" for i in range(7)], [f"t{i}" for i in range(7)]
    vectors = _synthetic_index(tmp_path / "partial", docids, texts, finish=False)
    assert ForwardIndex(tmp_path / "partial").lookup(["d6", "d0"], ["t6", "t0"]).pooled.tolist() == [
        vectors[6].tolist(),
        vectors[0].tolist(),
    ]
    _synthetic_index(tmp_path / "old", docids, texts)
    for stale in [
        *(tmp_path / "old").glob("*.keys.npy"),
        *(tmp_path / "old").glob("*.digests.npy"),
        *(tmp_path / "old").glob("lookup.*"),
    ]:
        stale.unlink(missing_ok=True)
    manifest = json.loads((tmp_path / "old" / "manifest.json").read_text())
    del manifest["lookup"]
    (tmp_path / "old" / "manifest.json").write_text(json.dumps(manifest))
    found = ForwardIndex(tmp_path / "old").lookup(["d3", "d9"], ["t3", "t9"])
    assert found.missing == [1] and found.pooled[0].tolist() == vectors[3].tolist()
