"""Where model weights come from: the registry of named models and the local weight sources behind them."""

from rankwise.models.registry import MODELS, ModelSpec, get_model_spec
from rankwise.models.resolve import ModelLocation, resolve_model

__all__ = ["MODELS", "ModelLocation", "ModelSpec", "get_model_spec", "resolve_model"]
