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

    def kill_after_two_chunks(done, total):
        if done >= 6:
            raise Killed

    folder = tmp_path / "killed"
    with pytest.raises(Killed):
        build_forward_index(flea_docs, folder, "minilm-embed", token_vectors=True, chunk_size=3,
                            on_chunk=kill_after_two_chunks)
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
    with pytest.raises(InputError, match=r"--resume over an index built differently \(dtype: 'float32' there, "
                                         r"'float16' now"):
        build_forward_index(flea_docs[:4], folder, "minilm-embed", dtype="float16", chunk_size=2, resume=True)


def test_an_index_from_another_encoder_or_without_token_vectors_is_refused(tmp_path, flea_docs):
    folder = tmp_path / "prefixed"
    build_forward_index(flea_docs[:3], folder, "minilm-embed", passage_prefix="passage: ")
    with pytest.raises(InputError, match=r"built by another encoder \(passage_prefix: 'passage: ' in the index, "
                                         r"'' here\)"):
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
    cosine = {r.docid: r.score for r in Reranker.load("minilm-embed", method="embedding")
              .rerank(FLEA_QUERY, candidates).results}
    ranking = Reranker.load("minilm-embed", method="fast-forward", alpha=0.2, index=str(built)).rerank(
        FLEA_QUERY, candidates)
    expected = {c.docid: 0.2 * c.score + 0.8 * cosine[c.docid] for c in candidates}
    assert {r.docid: r.score for r in ranking.results} == pytest.approx(expected, abs=1e-6)
    assert ranking.trace["index"]["from_index"] == len(candidates)


def test_fast_forward_exact_early_stopping_keeps_the_full_top_k_and_saves_lookups(built, flea_docs):
    candidates = scored_fleas(flea_docs)
    full = Reranker.load("minilm-embed", method="fast-forward", alpha=0.5).rerank(FLEA_QUERY, candidates)
    stopped = Reranker.load("minilm-embed", method="fast-forward", alpha=0.5, early_stop_k=2, early_stop_step=2,
                            index=str(built)).rerank(FLEA_QUERY, candidates)
    assert [r.docid for r in stopped.results[:2]] == [r.docid for r in full.results[:2]]
    saved = stopped.trace["early_stopping"]["lookups_saved"]
    assert saved > 0 and stopped.trace["index"]["from_index"] == len(candidates) - saved
    assert len(stopped.results) == len(candidates)


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
    built = runner.invoke(app, ["index", "--corpus", str(EXAMPLES / "fleas.jsonl"), "--out", str(out),
                                "--encode", "minilm-embed", "--dtype", "float16", "--chunk-size", "4"])
    assert built.exit_code == 0, built.output
    assert "KiB per passage" in built.output and (out / "forward" / "manifest.json").is_file()
    again = runner.invoke(app, ["index", "--corpus", str(EXAMPLES / "fleas.jsonl"), "--out", str(out),
                                "--encode", "minilm-embed"])
    assert again.exit_code != 0 and "already here; pass --resume" in again.output
    reranked = runner.invoke(app, ["rerank", "-m", "minilm-embed", "-O", f"index={out}", "-q", FLEA_QUERY,
                                   "--docs", str(EXAMPLES / "fleas.jsonl"), "--top-n", "3"])
    assert reranked.exit_code == 0, reranked.output
    manifest = json.loads((out / "forward" / "manifest.json").read_text())
    assert manifest["complete"] and manifest["dtype"] == "float16"
