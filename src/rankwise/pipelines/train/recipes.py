"""Recipes: the exact training runs behind rankwise's own registered models, so that any of them can be
rebuilt deterministically (fixed data, settings and seeds) from the collections in `../shared/data`,
into the folder the registry reads."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rankwise.errors import InputError
from rankwise.models.cache import cache_dir
from rankwise.models.registry import get_model_spec
from rankwise.models.sources import TrainedAdapter, TrainedFolder
from rankwise.pipelines.train.data import HeldOut, build_query_groups

TRAIN_COLLECTION = "dl21"
UNJUDGED_COLLECTION = "dl22"  # queries labelled by a teacher, not by judgments
HELD_OUT_COLLECTION = "dl19"
KEPT_FILES = ("README.md", "reference_scores.json")  # a faithful rebuild reproduces the recorded scores


@dataclass(frozen=True)
class Recipe:
    model: str
    description: str
    build: Callable[[Path, Path, bool], None]  # (data folder, work folder, resume) -> writes the model
    collections: tuple[str, ...] = (TRAIN_COLLECTION, HELD_OUT_COLLECTION)  # folders it reads from the data


def _destination(name: str) -> Path:
    spec = get_model_spec(name)
    if spec is None or not isinstance(spec.local, (TrainedFolder, TrainedAdapter)):
        raise InputError(f"{name!r} is not a model rankwise trains")
    return spec.local.folder()


def _install(source: Path, destination: Path) -> None:
    """Replace `destination` by `source`, keeping the model card and the recorded reference scores."""
    kept = {
        file: (destination / file).read_text(encoding="utf-8") for file in KEPT_FILES if (destination / file).exists()
    }
    if destination.exists():
        shutil.rmtree(destination)
    shutil.copytree(source, destination, ignore=shutil.ignore_patterns("checkpoints"))
    for file, text in kept.items():
        (destination / file).write_text(text, encoding="utf-8")


def _fusion_recipe(name: str, spec_factory: Callable[[], object]) -> Callable[[Path, Path, bool], None]:
    """A recipe that trains a fusion on DL 2021 (both first stages, 5 folds, seed 0), never on DL 2019."""

    def build(data: Path, work: Path, resume: bool) -> None:
        from rankwise.pipelines.train.fusion import train_fusion

        held_out = HeldOut.from_collections([data / HELD_OUT_COLLECTION])
        train_fusion(spec_factory(), [data / TRAIN_COLLECTION], work / "model", held_out=held_out, folds=5, seed=0)
        _install(work / "model", _destination(name))

    return build


def _minilm_prf_spec() -> object:
    from rankwise.rerankers.compose.fusion import FusionSpec, Stage

    # Trained before scale-free gaps existed; kept as it was so the recipe rebuilds the shipped booster.
    return FusionSpec([Stage(name="minilm_prf", model="minilm-embed", method="embedding-prf")], scale_free_gap=False)


def _minilm_maxsim_spec() -> object:
    from rankwise.rerankers.compose.fusion import FusionSpec, Stage

    return FusionSpec([Stage(name="maxsim", model="minilm-embed", method="maxsim")], scale_free_gap=True)


def _late_interaction_recipe(name: str, config_factory: Callable[[], object]) -> Callable[[Path, Path, bool], None]:
    """A recipe that fine-tunes MiniLM for MaxSim on DL 2021 (grades) and DL 2022 (SPLADE++ scores as the
    teacher), DL 2019 held out."""

    def build(data: Path, work: Path, resume: bool) -> None:
        from rankwise.pipelines.train.late_interaction import train_late_interaction

        held_out = HeldOut.from_collections([data / HELD_OUT_COLLECTION])
        collections = [data / TRAIN_COLLECTION, data / UNJUDGED_COLLECTION]
        groups = build_query_groups(collections, held_out=held_out).groups
        train_late_interaction("minilm-embed", groups, work, config_factory(), resume=resume, held_out=held_out)
        _install(work / "model", _destination(name))

    return build


def _maxsim_lora_config() -> object:
    from rankwise.pipelines.train.late_interaction import LateInteractionTrainingConfig

    return LateInteractionTrainingConfig(lora_r=16, lr=2e-4, epochs=1.0, seed=0)


RECIPES = {
    "minilm-fusion-dl21": Recipe(
        "minilm-fusion-dl21",
        "LambdaMART over MiniLM+PRF and first-stage features",
        _fusion_recipe("minilm-fusion-dl21", _minilm_prf_spec),
    ),
    "minilm-maxsim-fusion-dl21": Recipe(
        "minilm-maxsim-fusion-dl21",
        "LambdaMART over MiniLM MaxSim+feedback and first-stage features",
        _fusion_recipe("minilm-maxsim-fusion-dl21", _minilm_maxsim_spec),
    ),
    "minilm-maxsim-lora": Recipe(
        "minilm-maxsim-lora",
        "LoRA adapter on MiniLM trained for MaxSim on DL 2021 grades and DL 2022 SPLADE++ scores",
        _late_interaction_recipe("minilm-maxsim-lora", _maxsim_lora_config),
        collections=(TRAIN_COLLECTION, UNJUDGED_COLLECTION, HELD_OUT_COLLECTION),
    ),
}


def run_recipe(name: str, data: str | Path, work: str | Path | None = None, resume: bool = False) -> Path:
    if name not in RECIPES:
        raise InputError(f"unknown recipe {name!r}; available: {', '.join(RECIPES)}")
    data = Path(data)
    for collection in RECIPES[name].collections:
        if not (data / collection).is_dir():
            raise InputError(f"recipe {name} needs the {collection} collection", source=str(data / collection))
    work = Path(work) if work else cache_dir() / "training" / name
    RECIPES[name].build(data, work, resume)
    return _destination(name)


def write_reference_scores(name: str, data: str | Path, queries: int = 3, top: int = 10) -> Path:
    """Record what the installed model `name` scores on the first `queries` DL 2019 BM25 queries (their top
    `top` passages), for the test that checks a fresh install reproduces them. DL 2019 is only scored
    here, never trained on."""
    import json

    from rankwise.io.candidates import read_candidates
    from rankwise.rerankers.registry import load_reranker

    candidates = "bm25_top100.json"
    requests = read_candidates(Path(data) / HELD_OUT_COLLECTION / candidates)[:queries]
    scores = {}
    for ranking in load_reranker(name).rerank_batch(requests):
        head = ranking.results[:top]
        scores[ranking.query.qid] = {
            "top": [r.docid for r in head],
            "values": {r.docid: round(r.score, 6) for r in head},
        }
    path = _destination(name) / "reference_scores.json"
    path.write_text(json.dumps({"candidates": candidates, "scores": scores}, indent=1) + "\n", encoding="utf-8")
    return path
