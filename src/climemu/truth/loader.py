"""The one reader of the known answer: what a stage needs of the synthetic source's truth.

The fetched file (``data/raw.nc``) records the generator's parameters (``generator_config``), so
the truth is read from the data it generated, never from ``params.yaml`` (which may have changed
since). Real data has no truth: :func:`load_truth` returns None and the stages say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import xarray as xr

from climemu.core.config import Box
from climemu.core.grid import box_mask
from climemu.core.paths import RAW
from climemu.truth.config import SyntheticConfig
from climemu.truth.exact import coefficients
from climemu.truth.synthetic import LinearModel, generator_config


@dataclass(frozen=True)
class Truth:
    """The generator of a synthetic file, on the file's grid; the linear model built on first use."""

    generator: SyntheticConfig
    lat: np.ndarray           # (H,) degrees north, cell centres
    lon: np.ndarray           # (W,) degrees east
    ocean: np.ndarray         # (H, W) bool

    @cached_property
    def model(self) -> LinearModel:
        return LinearModel.build(self.generator, self.lat, self.lon, self.ocean)

    @property
    def source_box(self) -> Box:
        """The planted teleconnection's source box (degrees)."""
        return self.generator.source_box

    @property
    def target_box(self) -> Box:
        """The planted teleconnection's target box (degrees)."""
        return self.generator.target_box

    def coefficients(self, cell: tuple[int, int], lead: int, input_months: int) -> np.ndarray:
        """(input_months, H, W) exact coefficients of the best predictor of ``cell`` at ``lead``."""
        return coefficients(self.model, cell, lead, input_months)

    def removal_response(self, x: np.ndarray, source: np.ndarray, target: np.ndarray,
                         lead: int) -> np.ndarray:
        """(B,) exact mean change over the ``target`` cells when the ``source`` cells are set to zero.

        ``x`` (B, months, H, W) normalised inputs; ``source``, ``target`` (H, W) bool. The truth is
        linear, so removing the source removes exactly its contributions: minus the sum over
        source cells and months of coefficient x input (the paper's ablation, Sec. 4.3, done exactly).
        """
        cells = np.argwhere(target & self.ocean)
        change = np.zeros(len(x))
        for i, j in cells:
            coef = self.coefficients((int(i), int(j)), lead, x.shape[1])           # (months, H, W)
            change -= (coef[:, source][None] * x[:, :, source]).sum((1, 2))
        return change / len(cells)

    def linked(self, cells) -> list[str]:
        """Names of ``cells`` (each with ``name``, ``i``, ``j``) whose grid cell lies in the target
        box: the cells at which the planted link shows (the one definition every stage uses)."""
        inside = box_mask(self.lat, self.lon, self.target_box).values          # (H, W) bool
        return [c.name for c in cells if inside[c.i, c.j]]


def truth_of(raw: xr.Dataset) -> Truth | None:
    """The truth of a fetched dataset (the layout of ``data/raw.nc``); None for real data."""
    generator = generator_config(raw)
    if generator is None:
        return None
    return Truth(generator, raw["lat"].values, raw["lon"].values, raw["ocean"].values.astype(bool))


def load_truth(path: str | Path = RAW) -> Truth | None:
    """The truth of the synthetic file at ``path``; None for real data (no generator recorded)."""
    with xr.open_dataset(path) as raw:
        return truth_of(raw)
