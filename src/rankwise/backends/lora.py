"""LoRA on a causal LM (peft): attach a trainable adapter, run the training forward pass FIRST needs, save
the adapter. Loading a saved adapter for inference is a runtime option (`adapter=`, see `runtime`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rankwise.backends.causal_lm import CausalLM
from rankwise.backends.runtime import import_peft

if TYPE_CHECKING:
    import torch

DEFAULT_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj")


def _prepare_for_training(lm: CausalLM, gradient_checkpointing: bool) -> None:
    if gradient_checkpointing:  # recompute activations in backward: less memory for long windows
        lm.model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        lm.model.enable_input_require_grads()


def attach_lora(
    lm: CausalLM,
    r: int = 8,
    alpha: int = 16,
    dropout: float = 0.0,
    targets: Sequence[str] = DEFAULT_TARGETS,
    gradient_checkpointing: bool = True,
) -> int:
    """Wrap the model in a trainable LoRA adapter; returns the number of trainable parameters."""
    peft = import_peft()
    _prepare_for_training(lm, gradient_checkpointing)
    config = peft.LoraConfig(
        r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=list(targets), task_type="CAUSAL_LM"
    )
    lm.model = peft.get_peft_model(lm.model, config)
    lm.model.train()
    return sum(p.numel() for p in lm.model.parameters() if p.requires_grad)


def resume_lora(lm: CausalLM, path: str | Path, gradient_checkpointing: bool = True) -> None:
    """Re-attach a saved adapter as trainable, to continue training it."""
    peft = import_peft()
    _prepare_for_training(lm, gradient_checkpointing)
    lm.model = peft.PeftModel.from_pretrained(lm.model, str(path), is_trainable=True)
    lm.model.train()


def save_lora(lm: CausalLM, path: str | Path) -> None:
    lm.model.save_pretrained(str(path))


@dataclass
class WindowOutputs:
    target_logits: torch.Tensor  # [len(target), vocab]: the logits that predict each target token
    first: torch.Tensor  # log P(first answer token) for each requested first id
    second: torch.Tensor | None  # log P(token | bridge) for each requested second id, when asked


def training_forward(
    lm: CausalLM,
    prompt_ids: Sequence[int],
    target_ids: Sequence[int],
    first_ids: Sequence[int],
    bridge_id: int | None = None,
    second_ids: Sequence[int] = (),
) -> WindowOutputs:
    """One window, with gradients: the target's logits (for the LM loss) and the first-token log-probs of
    the identifiers. The bridged distribution P(. | prompt + bridge) is read from the target's own second
    position when the target starts with the bridge token, else from one more forward pass."""
    import torch

    ids = list(prompt_ids) + list(target_ids)
    lm._check_length(ids)
    device = lm.device
    logits = lm.model(input_ids=torch.tensor([ids], device=device), use_cache=False).logits[0]
    start = len(prompt_ids) - 1
    target_logits = logits[start : start + len(target_ids)]
    first = target_logits[0].float().log_softmax(-1)[list(first_ids)]
    second = None
    if bridge_id is not None:
        if target_ids and target_ids[0] == bridge_id:
            bridged = target_logits[1]
        else:
            step = torch.tensor([list(prompt_ids) + [bridge_id]], device=device)
            bridged = lm.model(input_ids=step, use_cache=False).logits[0, -1]
        second = bridged.float().log_softmax(-1)[list(second_ids)]
    return WindowOutputs(target_logits, first, second)
