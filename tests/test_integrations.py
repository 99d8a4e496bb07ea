"""Framework adapters inside the frameworks' own pipelines (real packages from PyPI), and their examples."""

from __future__ import annotations

import subprocess
import sys

import pytest
from tests.conftest import EXAMPLES, FLEA_PASSAGES, FLEA_QUERY, ROOT

PASSAGES, QUERY = FLEA_PASSAGES, FLEA_QUERY


def test_langchain_compression_retriever_reranks_with_scores(minilm):
    pytest.importorskip("langchain_core", reason="the langchain extra is not installed")
    classic = pytest.importorskip("langchain_classic.retrievers", reason="langchain-classic is not installed")
    from langchain_core.documents import Document
    from langchain_core.retrievers import BaseRetriever

    from rankwise.integrations.langchain import RankwiseRerank

    class InOrder(BaseRetriever):
        def _get_relevant_documents(self, query, *, run_manager):
            return [Document(page_content=t, metadata={"source": f"p{i}"}, id=f"d{i}") for i, t in enumerate(PASSAGES)]

    compressor = RankwiseRerank.from_reranker(minilm, top_n=3)
    retriever = classic.ContextualCompressionRetriever(base_compressor=compressor, base_retriever=InOrder())
    docs = retriever.invoke(QUERY)
    assert [d.metadata["source"] for d in docs] == ["p1", "p3", "p2"]
    assert [d.id for d in docs] == ["d1", "d3", "d2"]
    expected = {int(r.docid): r.score for r in minilm.rerank(QUERY, PASSAGES)}
    for doc in docs:
        raw = expected[int(doc.metadata["source"][1:])]
        assert doc.metadata["rankwise_score"] == pytest.approx(raw)
        assert doc.metadata["relevance_score"] == pytest.approx((1 + raw) / 2)  # cosine mapped onto [0, 1]
    assert compressor.compress_documents([], QUERY) == []
    with pytest.raises(Exception, match="top_n"):
        RankwiseRerank(top_n=-1)
    with pytest.raises(Exception, match="extra|not permitted|Extra"):
        RankwiseRerank(modle="typo")


def test_llama_index_query_engine_reranks_nodes(minilm):
    pytest.importorskip("llama_index.core", reason="the llama-index extra is not installed")
    from llama_index.core import QueryBundle, Settings
    from llama_index.core.llms import MockLLM
    from llama_index.core.query_engine import RetrieverQueryEngine
    from llama_index.core.retrievers import BaseRetriever
    from llama_index.core.schema import NodeWithScore, TextNode

    from rankwise import InputError
    from rankwise.integrations.llama_index import RankwiseRerank

    class InOrder(BaseRetriever):
        def _retrieve(self, query_bundle: QueryBundle):
            return [NodeWithScore(node=TextNode(text=t, id_=f"p{i}"), score=1.0) for i, t in enumerate(PASSAGES)]

    Settings.llm = MockLLM()
    postprocessor = RankwiseRerank.from_reranker(minilm, top_n=2)
    engine = RetrieverQueryEngine.from_args(InOrder(), response_mode="no_text", node_postprocessors=[postprocessor])
    nodes = engine.query(QUERY).source_nodes
    assert [n.node.node_id for n in nodes] == ["p1", "p3"]
    assert all(0 <= n.score <= 1 for n in nodes) and nodes[0].score > nodes[1].score
    again = postprocessor.postprocess_nodes(InOrder().retrieve(QUERY), query_str=QUERY)
    assert [n.node.node_id for n in again] == ["p1", "p3"]
    assert again[0].node.metadata == {}  # nodes are not changed by reranking
    with pytest.raises(InputError, match="needs the query"):
        postprocessor.postprocess_nodes(InOrder().retrieve(QUERY))


def test_haystack_pipeline_reranks_and_round_trips_through_yaml(minilm):
    pytest.importorskip("haystack", reason="the haystack extra is not installed")
    from haystack import Document, Pipeline
    from haystack.components.retrievers.in_memory import InMemoryBM25Retriever
    from haystack.document_stores.in_memory import InMemoryDocumentStore

    from rankwise.integrations.haystack import RankwiseRanker

    store = InMemoryDocumentStore()
    store.write_documents([Document(content=t, id=f"p{i}", meta={"n": i}) for i, t in enumerate(PASSAGES)])
    pipeline = Pipeline()
    pipeline.add_component("retriever", InMemoryBM25Retriever(store, top_k=4))
    ranker = RankwiseRanker.from_reranker(minilm, top_k=2)  # the session's model, not loaded again
    pipeline.add_component("ranker", ranker)
    pipeline.connect("retriever.documents", "ranker.documents")
    query = "how long does a flea live"  # BM25 here does no stemming: "flea", not "fleas"
    retrieved = pipeline.run(
        {"retriever": {"query": query}, "ranker": {"query": query}}, include_outputs_from={"retriever"}
    )
    assert [d.id for d in retrieved["retriever"]["documents"]][0] != "p1"  # BM25 alone gets it wrong
    ranked = retrieved["ranker"]["documents"]
    assert [d.id for d in ranked] == ["p1", "p3"]
    raw = {int(r.docid): r.score for r in minilm.rerank(query, PASSAGES)}
    assert ranked[0].score == pytest.approx((1 + raw[1]) / 2) and ranked[0].meta == {
        "n": 1,
        "rankwise_score": pytest.approx(raw[1]),
    }
    assert ranker.run(query=query, documents=retrieved["retriever"]["documents"], top_k=1)["documents"][0].id == "p1"
    restored = Pipeline.loads(pipeline.dumps(), allowed_modules=["rankwise.integrations.haystack"])
    copy = restored.get_component("ranker")
    assert isinstance(copy, RankwiseRanker) and (copy.model, copy.top_k) == ("minilm-embed", 2)
    with pytest.raises(ValueError, match="top_k must be >= 0"):
        RankwiseRanker(top_k=-1)


def test_pyterrier_experiment_matches_rankwise_own_evaluation(minilm, dl19_requests):
    pt = pytest.importorskip("pyterrier", reason="the pyterrier extra is not installed")
    import pandas as pd
    from tests.conftest import data_path

    from rankwise import InputError
    from rankwise.integrations.pyterrier import RankwiseReranker
    from rankwise.io.trec import read_qrels
    from rankwise.pipelines.evaluate import evaluate, run_from_rankings

    requests = [r for r in dl19_requests[:4]]
    requests = [type(r)(r.query, r.candidates[:10]) for r in requests]
    run = pd.DataFrame(
        [
            {"qid": r.query.qid, "query": r.query.text, "docno": c.docid, "text": c.text, "score": c.score}
            for r in requests
            for c in r.candidates
        ]
    )
    qrels = read_qrels(data_path("dl19", "qrels.txt"))
    qrels_frame = pd.DataFrame(
        [
            {"qid": q, "docno": d, "label": g}
            for q, judged in qrels.items()
            for d, g in judged.items()
            if q in {r.query.qid for r in requests}
        ]
    )
    topics = run[["qid", "query"]].drop_duplicates()
    reranker = RankwiseReranker.from_reranker(minilm)
    results = pt.Experiment(
        [pt.Transformer.from_df(run) >> reranker],
        topics,
        qrels_frame,
        [pt.measures.nDCG @ 10],
        names=["rankwise"],
        verbose=False,
    )
    expected = evaluate(run_from_rankings(minilm.rerank_batch(requests)), qrels, ["nDCG@10"])["nDCG@10"]
    assert results["nDCG@10"].iloc[0] == pytest.approx(expected, abs=1e-9)
    frame = reranker.transform(run)
    first = frame[frame["qid"] == requests[0].query.qid]
    assert list(first["docno"]) == minilm.rerank_batch(requests[:1])[0].docids
    assert list(first["rank"]) == list(range(len(first))) and frame.attrs["score_kind"] == "cosine"
    with pytest.raises(InputError, match="missing text"):
        reranker.transform(run.drop(columns=["text"]))


@pytest.mark.parametrize(
    "example, module",
    [
        ("langchain_rerank.py", "langchain_classic"),
        # the other examples run the same adapters' code as their unit tests; each costs a process and a load
        pytest.param("llama_index_rerank.py", "llama_index.core", marks=pytest.mark.slow),
        pytest.param("haystack_rerank.py", "haystack", marks=pytest.mark.slow),
        pytest.param("pyterrier_rerank.py", "pyterrier", marks=pytest.mark.slow),
    ],
)
def test_examples_run(example, module):
    pytest.importorskip(module, reason=f"{module} is not installed")
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / example)], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    if example == "pyterrier_rerank.py":  # an experiment table: the reranked run is perfect on this toy case
        assert lines[-1].split()[-1] == "1.000000" and "rankwise" in lines[-1]
        return
    assert len(lines) == 2 and " p1 " in lines[0] and "adult flea" in lines[0] and " p3 " in lines[1]
