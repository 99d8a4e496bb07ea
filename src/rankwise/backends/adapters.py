"""LoRA adapters kept apart from the weights they ride on, so one loaded base serves several of them, chosen
per call by name (the S-LoRA idea, without its kernels): `attach_adapters` loads them unmerged (peft), and a
backend that holds such a model switches between them with `use_adapter` (`None`: the base alone). A switch
flips which LoRA layers run; no weight is copied or reloaded. Merging one adapter for good is the runtime
option `adapter` (`runtime.merged_adapter`); this module is for serving many."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from rankwise.errors import ModelNotAvailableError, OptionError

ADAPTER_NAMES_ATTRIBUTE = "rankwise_adapter_names"  # set on the peft model by `attach_adapters`


@runtime_checkable
class AdapterSwitching(Protocol):
    """A backend whose model carries unmerged adapters, one active at a time."""

    @property
    def adapter_names(self) -> tuple[str, ...]: ...

    def use_adapter(self, name: str | None) -> None: ...


def attach_adapters(model: Any, adapters: Mapping[str, str | Path]) -> Any:
    """`model` wrapped by peft with every adapter loaded under its name and none merged; the base alone is
    active until `use_adapter` picks one."""
    from rankwise.backends.runtime import import_peft

    if not adapters:
        return model
    peft = import_peft()
    wrapped: Any = None
    for name, path in adapters.items():
        if not name or not isinstance(name, str):
            raise OptionError(f"adapter names must be non-empty text, got {name!r}")
        if not (Path(path) / "adapter_config.json").is_file():
            raise ModelNotAvailableError(f"adapter {name!r}: {path} holds no LoRA adapter (adapter_config.json)")
        try:
            if wrapped is None:
                wrapped = peft.PeftModel.from_pretrained(model, str(path), adapter_name=name)
            else:
                wrapped.load_adapter(str(path), adapter_name=name)
        except (ValueError, RuntimeError, KeyError) as e:  # another base's adapter, or layers this model lacks
            raise ModelNotAvailableError(f"adapter {name!r} at {path} does not fit this model: {e}") from None
    setattr(wrapped, ADAPTER_NAMES_ATTRIBUTE, tuple(adapters))
    switch_adapter(wrapped, None)
    return wrapped


def adapter_names(model: Any) -> tuple[str, ...]:
    return tuple(getattr(model, ADAPTER_NAMES_ATTRIBUTE, ()))


def switch_adapter(model: Any, name: str | None) -> None:
    """Make `name`'s LoRA layers the ones that run (None: none of them, the base model alone)."""
    names = adapter_names(model)
    if name is None:
        if names:
            model.base_model.disable_adapter_layers()
        return
    if name not in names:
        known = ", ".join(names) or "none"
        raise OptionError(f"no adapter named {name!r} is attached to this model (attached: {known})")
    model.base_model.enable_adapter_layers()
    model.set_adapter(name)


class SwitchesAdapters:
    """For backends holding a transformers `model`: the `AdapterSwitching` protocol over it."""

    model: Any

    @property
    def adapter_names(self) -> tuple[str, ...]:
        return adapter_names(self.model)

    def use_adapter(self, name: str | None) -> None:
        switch_adapter(self.model, name)
