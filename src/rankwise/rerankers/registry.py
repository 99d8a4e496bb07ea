"""Method registry: a method name maps to the class that implements it, imported only when used."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from rankwise.backends.options import RuntimeOptions
from rankwise.backends.registry import locate, runtime_option_names, split_options
from rankwise.errors import UnsupportedMethodError
from rankwise.models.registry import EMBEDDING_LM, LATE_INTERACTION, LAYERWISE_LM, SEQ2SEQ_LM, ModelSpec
from rankwise.models.resolve import ModelLocation
from rankwise.rerankers.base import BaseReranker
from rankwise.rerankers.compose import spec
from rankwise.rerankers.compose.spec import RerankerSpec
from rankwise.rerankers.wrappers.keywords import PRESET_KEYWORD, split_wrapper_options

METHODS: dict[str, str] = {
    "embedding": "rankwise.rerankers.embedding.bi_encoder:EmbeddingReranker",
    "embedding-prf": "rankwise.rerankers.embedding.prf:EmbeddingPRFReranker",
    "feedback-knn": "rankwise.rerankers.embedding.feedback_knn:FeedbackKnnReranker",
    "e2rank": "rankwise.rerankers.embedding.e2rank:E2RankReranker",
    "fast-forward": "rankwise.rerankers.embedding.fast_forward:FastForwardReranker",
    "maxsim": "rankwise.rerankers.embedding.maxsim:MaxSimReranker",
    "cross-encoder": "rankwise.rerankers.pointwise.cross_encoder:CrossEncoderReranker",
    "llm-pointwise": "rankwise.rerankers.pointwise.llm:LLMPointwiseReranker",
    "query-likelihood": "rankwise.rerankers.pointwise.query_likelihood:QueryLikelihoodReranker",
    "first": "rankwise.rerankers.listwise.llm:FirstReranker",
    "listwise-generate": "rankwise.rerankers.listwise.llm:ListwiseGenerateReranker",
    "prp": "rankwise.rerankers.pairwise.prp:PairwiseReranker",
    "sparse-pairwise": "rankwise.rerankers.pairwise.sparse:SparsePairwiseReranker",
    "setwise": "rankwise.rerankers.pairwise.setwise:SetwiseReranker",
    "icr": "rankwise.rerankers.listwise.icr:ICRReranker",
    "jointrank": "rankwise.rerankers.listwise.jointrank:JointRankReranker",
    "fusion": "rankwise.rerankers.compose.fusion:FusionReranker",
    "seq2seq-pointwise": "rankwise.rerankers.pointwise.seq2seq:Seq2SeqPointwiseReranker",
    "seq2seq-pairwise": "rankwise.rerankers.pairwise.seq2seq:Seq2SeqPairwiseReranker",
    "colbert": "rankwise.rerankers.embedding.colbert:ColBERTReranker",
    "fid-listwise": "rankwise.rerankers.listwise.fid:FiDListwiseReranker",
    "listt5": "rankwise.rerankers.listwise.listt5:ListT5Reranker",
    "mvp": "rankwise.rerankers.listwise.mvp:MVPReranker",
    "pe-rank": "rankwise.rerankers.listwise.pe_rank:PERankReranker",
    "reasoning-pointwise": "rankwise.rerankers.pointwise.reasoning:ReasoningPointwiseReranker",
    "reasoning-listwise": "rankwise.rerankers.listwise.reasoning:ReasoningListwiseReranker",
    "reasoning-setwise": "rankwise.rerankers.pairwise.reasoning_setwise:ReasoningSetwiseReranker",
    "graded-pointwise": "rankwise.rerankers.pointwise.graded:GradedPointwiseReranker",
    "groupwise": "rankwise.rerankers.listwise.groupwise:GroupwiseReranker",
    "layerwise-pointwise": "rankwise.rerankers.pointwise.layerwise:LayerwisePointwiseReranker",
}

# For unregistered models, the default method follows the architecture named in config.json; None: an
# architecture rankwise cannot score yet, refused rather than loaded as something else.
ARCHITECTURE_DEFAULTS = {
    "LayerWiseMiniCPMForCausalLM": "layerwise-pointwise",
    "ForSequenceClassification": "cross-encoder",
    "ForCausalLM": "llm-pointwise",
    "ForConditionalGeneration": None,
}


def method_class(method: str) -> type[BaseReranker]:
    if method not in METHODS:
        raise UnsupportedMethodError(f"unknown method {method!r}; available: {', '.join(METHODS)}")
    module_name, class_name = METHODS[method].split(":")
    return getattr(importlib.import_module(module_name), class_name)


def methods_for(kind: str) -> list[str]:
    """Registered methods that accept a model of this kind."""
    return [name for name in METHODS if kind in method_class(name).model_kinds]


def registered_method(spec: ModelSpec) -> str:
    """A registered model's default method: its row's, or (a row with a preset) the preset's."""
    if spec.default_method is not None:
        return spec.default_method
    from rankwise.rerankers.presets import preset_method

    assert spec.preset is not None  # a row names a method or a preset (checked by test_models)
    return preset_method(spec.preset)


def default_method(location: ModelLocation) -> str:
    if location.spec is not None:
        return registered_method(location.spec)
    if location.is_local and location.read_json("fusion.json") is not None:
        return "fusion"
    kind = folder_kind(location)
    if kind == LATE_INTERACTION:
        return "colbert"
    if kind == EMBEDDING_LM:
        return "pe-rank"  # its architecture (EmbedMistralForCausalLM) would read as a plain causal LM
    if location.read_json("1_Pooling/config.json") is not None:
        return "embedding"  # a sentence-transformers embedder, whatever architecture its weights have
    config = location.read_json("config.json") or {}
    if not config and (location.read_json("adapter_config.json") or {}).get("task_type") == "CAUSAL_LM":
        return "llm-pointwise"  # a checkpoint published as a LoRA adapter over a causal LM
    for architecture in config.get("architectures") or []:
        for suffix, method in ARCHITECTURE_DEFAULTS.items():
            if architecture.endswith(suffix):
                if method is None:
                    from rankwise.rerankers.presets import PRESETS

                    methods = methods_for(SEQ2SEQ_LM)
                    presets = [p.name for p in PRESETS.values() if p.method in methods]
                    raise UnsupportedMethodError(
                        f"{location.label}: a {architecture} checkpoint is scored by the template and tokens it "
                        f"was trained with; name them with a preset (preset={', '.join(presets[:-1])} or "
                        f"{presets[-1]}) or a method ({', '.join(methods)}) with its options"
                    )
                return method
    return "embedding"


def folder_kind(location: ModelLocation) -> str | None:
    """The model kind of an unregistered folder, where its own files say it (a ColBERT checkpoint's
    projection and markers would be dropped by a bi-encoder load); None when only the method can tell."""
    if location.spec is not None:
        return location.spec.kind
    from rankwise.backends.colbert import is_colbert_folder
    from rankwise.backends.layerwise import is_layerwise_folder
    from rankwise.backends.passage_embedding_lm import is_passage_embedding_folder

    if is_colbert_folder(location):
        return LATE_INTERACTION
    if is_passage_embedding_folder(location):
        return EMBEDDING_LM
    return LAYERWISE_LM if is_layerwise_folder(location) else None


def load_reranker(model: str, method: str | None = None, **options: Any) -> BaseReranker:
    """Load a reranker from a registered name, a local path or a Hugging Face id, wrapped for long
    documents, in the result cache and with a calibration when asked (the keywords of
    `rerankers.wrappers.keywords`; see `Reranker.load`)."""
    wrappers, options = split_wrapper_options(options)
    calibration, cache = wrappers.calibration, wrappers.cache
    fitted = None if calibration is None or calibration is False else _calibration_for(model, calibration)
    if spec.is_spec(model, set(METHODS)):
        if method is not None:
            raise UnsupportedMethodError(
                f"{model!r} is a reranker spec that names its own methods; drop method={method!r}"
            )
        reranker = _load_composition(model, **options)
    else:
        reranker = _load_method(model, method, **options)
    if wrappers.long_documents is not None:
        from rankwise.rerankers.wrappers.long_documents import PassageAggregating

        reranker = PassageAggregating(
            reranker, wrappers.long_documents, wrappers.passage_tokens, wrappers.passage_stride
        )
    if cache:
        from rankwise.models.cache import cache_dir
        from rankwise.rerankers.wrappers.cached import DEFAULT_SIZE_LIMIT, CachedReranker

        folder = cache_dir() / "results" if cache is True else Path(cache)
        reranker = CachedReranker(reranker, folder, size_limit=wrappers.cache_size_limit or DEFAULT_SIZE_LIMIT)
    if fitted is not None:
        from rankwise.rerankers.wrappers.calibrated import CalibratedReranker

        reranker = CalibratedReranker(reranker, *fitted)
    return reranker


def _calibration_for(model: str, calibration: bool | str | Path) -> tuple[Any, str]:
    """The calibration asked for, read before any weights load: a file, or (True) a registered model's own."""
    from rankwise.calibration import Calibration
    from rankwise.models.registry import get_model_spec

    if calibration is True:
        spec = get_model_spec(model)
        if spec is None or spec.calibration is None:
            raise UnsupportedMethodError(
                f"{model!r} carries no calibration of its own; fit one with `rankwise "
                "calibrate` and pass its file (calibration='calib.json')"
            )
        return Calibration.load(spec.calibration_path()), f"{model}'s own calibration"
    assert calibration is not False  # the caller asks only for a calibration it was given
    return Calibration.load(calibration), str(calibration)


def load_spec(spec: RerankerSpec, **defaults: Any) -> BaseReranker:
    """Load a reranker described by a `RerankerSpec`, its own options over `defaults` (runtime options a
    composition shares with its members, options a job adds to every row)."""
    return load_reranker(spec.model, method=spec.method, **{**defaults, **spec.options})


def _load_composition(text: str, **options: Any) -> BaseReranker:
    """A cascade of stages, each one method or a reciprocal rank fusion of several; `options` may only be
    runtime options (device, threads, ...), given to every member: method options belong in the spec."""
    from rankwise.rerankers.compose.cascade import CascadeReranker, Stage, StageOptions
    from rankwise.rerankers.compose.rrf import ReciprocalRankFusion

    unknown = sorted(set(options) - runtime_option_names())
    if unknown:
        raise UnsupportedMethodError(
            f"options {', '.join(unknown)} belong inside the spec {text!r} (method:model{{key=value}})"
        )
    stages = []
    for plan in spec.parse_spec(text, set(METHODS)):
        if plan.is_rrf:
            label = "rrf(" + ", ".join(m.label for m in plan.members) + ")"
            escalate_when, rrf_given = StageOptions.taken_from(plan.rrf_options, label)
            members = [load_reranker(m.model, m.method, **{**options, **m.options}) for m in plan.members]
            rrf_options = ReciprocalRankFusion.checked_options(rrf_given)
            stage: BaseReranker = ReciprocalRankFusion(members, label, rrf_options)
        else:
            member = plan.members[0]
            escalate_when, given = StageOptions.taken_from(member.options, member.label)
            # a member may carry the wrappers' options too (calibration=..., which an escalating stage reads)
            stage = load_reranker(member.model, member.method, **{**options, **given})
        stages.append(Stage(stage, plan.top_k, escalate_when))
    if len(stages) == 1 and stages[0].top_k is None and stages[0].escalate_when is None:
        return stages[0].reranker
    return CascadeReranker(stages, text)


def _load_method(model: str, method: str | None = None, **options: Any) -> BaseReranker:
    runtime, method_options = split_options(options)
    return load_with_runtime(model, method, runtime, **method_options)


def load_with_runtime(model: str, method: str | None, runtime: RuntimeOptions, **options: Any) -> BaseReranker:
    """One method over one model with runtime options already checked: what compositions that share their
    runtime with their members call. `preset=NAME` among the options (or the registered model's own preset)
    supplies the method and its options, under what the user gave."""
    from rankwise.rerankers.presets import apply_preset, with_preset_runtime

    location = locate(model, runtime.backend)
    preset = options.pop(PRESET_KEYWORD, None)
    # A registered model's own preset, for its default method; another method asked for runs without it.
    if (
        preset is None
        and location.spec is not None
        and location.spec.preset is not None
        and method in (None, registered_method(location.spec))
    ):
        preset = location.spec.preset
    method, options = apply_preset(preset, method, options)
    runtime = with_preset_runtime(runtime, preset)
    chosen = method or default_method(location)
    cls = method_class(chosen)
    kind = folder_kind(location)
    if kind is not None and kind not in cls.model_kinds:
        raise UnsupportedMethodError(
            f"model {location.label!r} ({kind}) supports {', '.join(methods_for(kind))}, not {chosen!r}"
        )
    return cls.from_model(location, runtime, **options)
