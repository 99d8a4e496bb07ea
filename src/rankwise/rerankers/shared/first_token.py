"""FIRST's single-token reading of identifiers: which token starts each identifier in the model's answer
(merged, like "[A", or after a shared bridge token "["), shared by FIRST (listwise windows) and setwise (the
choice among a set read from the same first tokens)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rankwise.backends.interface import TextSide
from rankwise.errors import UnsupportedMethodError
from rankwise.rerankers.prompts.shapes import ChatRenderer


@dataclass(frozen=True)
class FirstTokenScheme:
    """How each identifier starts the answer: `direct[i]` is a merged token like "[A"; `bridged[i]` is the
    token after the shared `bridge_id` ("[")."""

    labels: tuple[str, ...]
    direct: dict[int, int]
    bridged: dict[int, int]
    bridge_id: int | None

    @classmethod
    def analyze(cls, text: TextSide, labels: list[str], render: ChatRenderer | None = None) -> FirstTokenScheme:
        """`render` turns messages into the prompt text the answer follows (default: the chat template)."""
        prefix = (render or text.chat_prefix)([{"role": "user", "content": "rank"}])
        prefix_ids = text.encode(prefix)
        direct, bridged, bridges = {}, {}, set()
        for i, label in enumerate(labels):
            ids = text.encode(prefix + f"[{label}] > [")
            if ids[: len(prefix_ids)] != prefix_ids:
                raise UnsupportedMethodError(
                    f"{text.label}: the answer's first tokens merge with the chat "
                    "template, so identifier probabilities cannot be read from them"
                )
            answer = ids[len(prefix_ids) :]
            first = text.decode([answer[0]])
            if first == "[" and len(answer) > 1 and _names(text.decode([answer[1]]), label):
                bridged[i] = answer[1]
                bridges.add(answer[0])
            elif first.startswith("[") and _names(first[1:], label):
                direct[i] = answer[0]
            else:
                raise UnsupportedMethodError(
                    f"{text.label}: identifier [{label}] starts with tokens "
                    f"{[text.decode([t]) for t in answer[:2]]}, which do not determine it; FIRST single-token "
                    "decoding is not exact for this model with these identifiers "
                    "(try alphabet='alpha')"
                )
        if len(bridges) > 1:
            raise UnsupportedMethodError(f"{text.label}: identifiers split after different bridge tokens")
        tokens = list(direct.values()) + list(bridged.values())
        if len(set(tokens)) != len(tokens) or set(direct.values()) & bridges:
            raise UnsupportedMethodError(f"{text.label}: two identifiers share a first token")
        return cls(tuple(labels), direct, bridged, bridges.pop() if bridges else None)

    @property
    def needs_step(self) -> bool:
        return bool(self.bridged)

    def request(self) -> tuple[list[int], int | None, list[int]]:
        """What to ask `first_token_logprobs` for: the merged identifiers' tokens (then the bridge, when some
        identifiers are split), the bridge (or None) and the tokens after it."""
        bridge = [self.bridge_id] if self.needs_step and self.bridge_id is not None else []
        return list(self.direct.values()) + bridge, bridge[0] if bridge else None, list(self.bridged.values())

    def fill(self, scores: Any, first: Any, second: Any) -> Any:
        """`scores` (one slot per identifier position; a numpy array or a torch tensor) filled from one row of
        the answer to `request()`: a merged identifier's first-token log-prob, or a split one's bridge plus
        its second token."""
        if self.direct:
            scores[list(self.direct)] = first[: len(self.direct)]
        if self.needs_step:
            scores[list(self.bridged)] = first[-1] + second
        return scores


def _names(piece: str, label: str) -> bool:
    """True when a decoded token spells exactly the label, possibly followed by the closing bracket."""
    return piece.startswith(label) and (len(piece) == len(label) or not piece[len(label)].isalnum())
