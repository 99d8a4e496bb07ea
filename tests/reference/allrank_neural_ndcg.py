"""Reference values of allegro/allRank's NeuralNDCG (deterministic variant) on a hand-made padded batch, written
to allrank_neural_ndcg.json for tests/test_neural_ndcg.py.

    python tests/reference/allrank_neural_ndcg.py /work/.mirror/allegro+allRank/repo   # `fetch` gives it

It imports allRank's own loss, loss utilities and metrics from a checkout of its default branch (read with
`git show`; its logging and file utilities, which the loss does not use, are stubbed)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import types
from pathlib import Path

import torch

FILES = (
    "allrank/models/losses/neuralNDCG.py",
    "allrank/models/losses/loss_utils.py",
    "allrank/models/metrics.py",
    "allrank/models/model_utils.py",
)


def main() -> None:
    mirror = sys.argv[1]
    commit = subprocess.run(["git", "-C", mirror, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    root = Path(tempfile.mkdtemp())
    for path in FILES:
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(
            subprocess.run(["git", "-C", mirror, "show", f"HEAD:{path}"], capture_output=True, text=True).stdout
        )
    for package in ("allrank", "allrank/models", "allrank/data"):
        (root / package).mkdir(parents=True, exist_ok=True)
        (root / package / "__init__.py").write_text("")
    (root / "allrank/models/losses/__init__.py").write_text("DEFAULT_EPS = 1e-10\n")
    (root / "allrank/data/dataset_loading.py").write_text("PADDED_Y_VALUE = -1\n")
    utils = types.ModuleType("allrank.utils")
    file_utils = types.ModuleType("allrank.utils.file_utils")
    file_utils.is_gs_path = lambda path: False
    file_utils.copy_file_to_local = lambda path: path
    logging_utils = types.ModuleType("allrank.utils.ltr_logging")
    logging_utils.get_logger = lambda: None
    sys.modules.update(
        {"allrank.utils": utils, "allrank.utils.file_utils": file_utils, "allrank.utils.ltr_logging": logging_utils}
    )
    sys.path.insert(0, str(root))
    from allrank.models.losses.neuralNDCG import neuralNDCG

    scores = torch.tensor(
        [[0.3, -1.2, 2.0, 0.7, 0.1, -0.4], [1.5, 0.2, -0.3, 0.9, 0.0, 0.0], [0.0, 0.4, -0.8, 0.0, 0.0, 0.0]],
        dtype=torch.float32,
    )
    labels = torch.tensor(
        [[1.0, 0.0, 3.0, 2.0, 0.0, 1.0], [0.0, 2.0, 1.0, 3.0, -1.0, -1.0], [0.0, 0.0, 0.0, -1.0, -1.0, -1.0]],
        dtype=torch.float32,
    )
    report = {
        "repository": "allegro/allRank",
        "commit": commit,
        "scores": scores.tolist(),
        "labels": labels.tolist(),
        "cases": [],
    }
    for temperature, k, powered in ((1.0, None, True), (0.5, 3, True), (2.0, None, False)):
        leaf = scores.clone().requires_grad_(True)
        loss = neuralNDCG(leaf, labels.clone(), temperature=temperature, k=k, powered_relevancies=powered)
        loss.backward()
        report["cases"].append(
            {"temperature": temperature, "k": k, "powered": powered, "loss": loss.item(), "grad": leaf.grad.tolist()}
        )
    out = Path(__file__).with_name("allrank_neural_ndcg.json")
    out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"written {out}")


if __name__ == "__main__":
    main()
