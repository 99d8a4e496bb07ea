"""Score conversions, each written once, each saying which `ScoreKind` its values are: the two-way answer
read from next-token log-probabilities (yes/no, passage A/B, true/false), a share of a softmax, and the
sigmoid. Methods compute with these and declare the kind of what they return (`BaseReranker.score_kind`)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


def group_log_odds(log_probs: np.ndarray, first: int) -> np.ndarray:
    """Per row, log P(any of the first `first` tokens) - log P(any of the rest): the log-odds of a two-way
    answer whose sides may each have several spellings. Kind: LOGIT."""
    import numpy as np

    return np.logaddexp.reduce(log_probs[:, :first], axis=1) - np.logaddexp.reduce(log_probs[:, first:], axis=1)


def log_share(values: np.ndarray, index: int) -> np.ndarray:
    """Along the last axis, log of the softmax share of position `index` (values - logsumexp(values)).
    Kind: LOG_PROBABILITY."""
    import numpy as np

    return values[..., index] - np.logaddexp.reduce(values, axis=-1)


def share(values: np.ndarray, index: int) -> np.ndarray:
    """The softmax share of position `index` along the last axis. Kind: PROBABILITY."""
    import numpy as np

    return np.exp(log_share(values, index))


def group_shares(log_probs: np.ndarray, sizes: Sequence[int]) -> np.ndarray:
    """Per consecutive group of `sizes` tokens in one row of log-probabilities (an answer's spellings), the
    group's probability renormalized over the groups: a distribution over the answers. Kind: PROBABILITY."""
    import numpy as np

    bounds = np.cumsum([0, *sizes])
    totals = np.array([np.logaddexp.reduce(log_probs[a:b]) for a, b in itertools.pairwise(bounds)])
    return np.exp(totals - np.logaddexp.reduce(totals))


def sigmoid(values: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-x) elementwise: a LOGIT's probability. Kind: PROBABILITY."""
    import numpy as np

    return 1.0 / (1.0 + np.exp(-values))


def sigmoid_scalar(x: float) -> float:
    """The sigmoid of one number, without overflow for large negative x. Kind: PROBABILITY."""
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))
