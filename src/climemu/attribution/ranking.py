"""Ranks of methods over several measures: the faithfulness stage and the report share them."""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


def mean_rank(values: dict[str, dict[str, float]], measures: list[str]) -> dict[str, float]:
    """Per method, its mean rank (1 = most faithful) over ``measures``, keys of ``values``
    (measure -> method -> value, larger is more faithful; NaN last). Ties share their mean
    rank: deeplift_shap with zero baselines is deeplift. Empty without measures."""
    if not measures:
        return {}
    methods = list(values[measures[0]])
    ranked = [rankdata([-np.nan_to_num(values[k][m], nan=-np.inf) for m in methods]) for k in measures]
    return {m: float(np.mean([r[i] for r in ranked])) for i, m in enumerate(methods)}
