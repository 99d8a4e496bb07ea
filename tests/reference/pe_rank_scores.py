"""Reference rankings of PE-Rank (liuqi6777/pe_rank: `ListwiseEmbeddingRanker` and `ListwiseTextEmbeddingRanker`
in `src/ranker.py`, slid over the candidates by `ListwiseSilidingWindowReranker` in `src/evaluate.py`, on its
`EmbedMistralForCausalLM` with the extended output head and constrained decoding) on a tiny seeded checkpoint
in the authors' saved format, for tests/test_pe_rank.py.

The repository pins transformers 4.37.2 (its generate() override and `prepare_inputs_for_generation` are written
for it), so the reference runs in its own venv; the tiny folders are built first by the project's venv:

    .venv/bin/python tests/reference/pe_rank_scores.py build      # writes tests/reference/pe_rank_tiny/
    python3 -m venv /tmp/perank && /tmp/perank/bin/pip install torch==2.13.0 transformers==4.37.2 \\
        peft==0.6.2 "numpy<2" safetensors sentencepiece protobuf
    /tmp/perank/bin/python tests/reference/pe_rank_scores.py run /work/.mirror/liuqi6777+pe_rank/repo

`run` extracts the repository's `src/` at HEAD (`git archive`, so a bare mirror from `fetch` works) and runs
it as it is. What differs from `Ranker.__init__` and `builder.load_pretrained_model` (third branch: a full
checkpoint), none of it a change of computation: the CPU instead of "cuda" and float32 instead of float16
(as every reference here compares in fp32); the tokenizer loaded fast (the tiny folder has no SentencePiece
model for `use_fast=False`); the encoder found in a Hugging Face cache laid out here, offline. Each generate()
call also returns its per-step scores (`output_scores`), recorded beside the order."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
FOLDER = HERE / "pe_rank_tiny"
ENCODER_ID = "rankwise-test/pe-rank-tiny-encoder"
QUERY = "how long do fleas live"
WORDS = ["flea", "market", "records", "pupae", "sourdough", "adult", "months", "dormant"]
CASES = [  # (passages, window, stride)
    ([f"{w} passage {i}" for i, w in enumerate(WORDS[:4])], 20, 10),
    ([f"passage {i} about fleas and {w}" for i, w in enumerate(WORDS[1:8])], 4, 2),
    ([f"{WORDS[i % len(WORDS)]} flea passage [{i}], alive {i % 3} months" for i in range(23)], 20, 10),
]
PROMPT_WORDS = (
    "I will provide you with passages, each with a special token representing the passage enclosed in [], "
    "followed by original text. Rank the passages based on their relevance to the search query: Passage "
    "Search Query: relatively ordered above output ranking descending order. Only unique [INST] [/INST] ( ) . :"
)


def build() -> None:
    import shutil

    sys.path.insert(0, str(HERE.parent))
    import tiny_models

    shutil.rmtree(FOLDER, ignore_errors=True)
    texts = [QUERY, PROMPT_WORDS, *[p for passages, _, _ in CASES for p in passages]]
    tiny_models.pe_rank(FOLDER, ENCODER_ID, texts)


def hf_cache(root: Path) -> Path:
    """The tiny encoder where huggingface_hub looks for ENCODER_ID (tests/tiny_models.hf_cache_layout)."""
    import shutil

    commit = "0" * 40
    repo = root / ("models--" + ENCODER_ID.replace("/", "--"))
    shutil.copytree(FOLDER / "encoder", repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    return root


def repository_src(mirror: str) -> tuple[Path, str]:
    git = ["git", "-C", mirror]
    commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    archive = subprocess.run([*git, "archive", "HEAD", "src"], capture_output=True, check=True).stdout
    target = Path(tempfile.mkdtemp())
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target)
    return target / "src", commit


def run(mirror: str) -> None:
    cache = hf_cache(Path(tempfile.mkdtemp()))
    os.environ.update(HF_HUB_CACHE=str(cache), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    src, commit = repository_src(mirror)
    sys.path.insert(0, str(src))
    import evaluate  # the repository's src/evaluate.py (its ListwiseSilidingWindowReranker)
    import ranker
    import torch
    import transformers
    from modeling.causal_lm import EmbedMistralForCausalLM
    from transformers import AutoConfig, AutoTokenizer

    checkpoint = str(FOLDER / "checkpoint")
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    config = AutoConfig.from_pretrained(checkpoint)
    model = EmbedMistralForCausalLM.from_pretrained(
        checkpoint, config=config, low_cpu_mem_usage=False, torch_dtype=torch.float32
    )
    model.initialize_tokenizer(tokenizer)  # builder.load_pretrained_model, third branch
    model.resize_token_embeddings(len(tokenizer))
    vocabulary = model.config.vocab_size  # as Ranker.__init__ reads it, before generate() grows the head

    steps: list[list[list[float]]] = []
    generate = model.generate

    def generate_with_scores(*args, **kwargs):
        out = generate(*args, **kwargs, output_scores=True, return_dict_in_generate=True)
        steps.append([[x for x in s[0].tolist() if x != float("-inf")] for s in out.scores])
        return out.sequences

    model.generate = generate_with_scores

    results = []
    for name, cls in (
        ("embedding", ranker.ListwiseEmbeddingRanker),
        ("text-embedding", ranker.ListwiseTextEmbeddingRanker),
    ):
        ranking = object.__new__(cls)  # Ranker.__init__ without "cuda" and float16
        ranking._tokenizer, ranking._model, ranking.model_name = tokenizer, model, checkpoint
        model.config.use_cache = True
        model.eval()
        ranking._encoder_tokenizer = AutoTokenizer.from_pretrained(model.config.encoder_name)
        ranking.oringinal_vocab_size = vocabulary
        ranking.device = torch.device("cpu")
        for passages, window, stride in CASES:
            windows: list[list[int]] = []

            def ranking_func(query, candidates, ranking=ranking, windows=windows):
                permutation = ranking(query, candidates)
                windows.append([int(i) for i in permutation])
                return permutation

            steps.clear()
            hits = [{"content": p, "docid": str(i)} for i, p in enumerate(passages)]
            reranked = evaluate.ListwiseSilidingWindowReranker().rerank(
                query=QUERY, candidates=hits, ranking_func=ranking_func, window_size=window, step=stride
            )
            results.append(
                {
                    "prompt": name,
                    "query": QUERY,
                    "passages": passages,
                    "window": window,
                    "stride": stride,
                    "order": [int(h["docid"]) for h in reranked],
                    "windows": windows,
                    "step_logits": [list(s) for s in steps],
                }
            )
    out = {
        "reference": f"liuqi6777/pe_rank {commit} (src/ranker.py, src/evaluate.py), transformers "
        f"{transformers.__version__}, torch {torch.__version__}, float32 on the CPU",
        "encoder_id": ENCODER_ID,
        "cases": results,
    }
    (HERE / "pe_rank_scores.json").write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps([(c["prompt"], c["order"]) for c in results]))


if __name__ == "__main__":
    if sys.argv[1:2] == ["build"]:
        build()
    elif sys.argv[1:2] == ["run"] and len(sys.argv) == 3:
        run(sys.argv[2])
    else:
        sys.exit(__doc__)
