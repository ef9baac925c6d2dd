"""Sections of the attribution stages: ``explain``, ``basin``, ``ablate``, ``score``, ``band``, ``sanity``.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from climemu.core.config import Box, Strict
from climemu.core.registry import Names

# The attribution methods ``explain.methods`` accepts. Their Captum classes live in
# ``attribution/methods.py``, whose registry is made over this list and checks at import that it
# holds the same names: reading the params imports neither torch nor Captum.
METHOD_NAMES = Names("attribution method", ["deeplift", "integrated_gradients", "guided_backprop",
                                            "deeplift_shap", "saliency", "input_x_gradient",
                                            "smoothgrad", "occlusion", "kernel_shap",
                                            "random", "edges"])
MethodName = Annotated[str, AfterValidator(METHOD_NAMES.check)]


class CellSpec(Strict):
    """An output cell to explain, by position in degrees (the nearest grid cell is used)."""

    name: str = Field(min_length=1)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=360)


Block = tuple[int, int, int]   # months x cells x cells


class MethodOptions(Strict):
    """What the methods beyond the paper's take (attribution/perturb.py, docs/measures.md)."""

    smoothgrad_samples: int = Field(ge=1)      # noisy copies averaged (Smilkov et al. 2017: 10-50)
    smoothgrad_stdev: float = Field(gt=0)      # their noise std, normalised anomaly units (inputs ~1)
    occlusion_window: Block                    # each block set to zero; stride = window (tiles)
    kernel_shap_samples: int = Field(ge=2)     # coalitions evaluated per sample and cell
    superpixel: Block                          # KernelSHAP's features
    per_eval: int = Field(ge=1)                # perturbed inputs per forward pass

    @model_validator(mode="after")
    def _blocks(self) -> "MethodOptions":
        for key in ("occlusion_window", "superpixel"):
            if any(v < 1 for v in getattr(self, key)):
                raise ValueError(f"{key} must be three sizes >= 1 (months, cells, cells); "
                                 f"got {list(getattr(self, key))}")
        return self


class ExplainConfig(Strict):
    """The explain stage (paper Sec. 3-4): instance and group explanations through Captum."""

    methods: list[MethodName] = Field(min_length=1)
    group_method: MethodName                # the paper's is deeplift (after Fig. 2)
    n_steps: int = Field(ge=2)              # Integrated Gradients
    shap_baselines: Literal["zeros", "training"]   # the paper used zeros
    shap_n_baselines: int = Field(ge=2)
    options: MethodOptions
    instance_sample: int = Field(ge=0)      # position in the training split
    instance_cells: list[CellSpec] = Field(min_length=1)
    group_cells: list[CellSpec] = Field(min_length=1)
    max_samples: int = Field(ge=1)
    truth_leads: list[int] = Field(min_length=1)   # synthetic: the truth's curve at these leads too
    # Identifiable variants of the map measures (docs/measures.md): signed attributions summed
    # over blocks of block_cells x block_cells cells before |.|, and the share of a map's energy
    # below a Gaussian smoothing of small_scale_sigma cells.
    block_cells: int = Field(ge=1)
    small_scale_sigma: float = Field(gt=0)
    # Group DeepLift runs every group cell from one forward pass (climemu.attribution.fast);
    # benchmarks/attribution.py, 2 CPU cores: 4 samples x 3 cells per pass, channels_last,
    # 32 ms per attribution, 3.4x plain Captum and 73% of the matmul-rate limit.
    batch_size: int = Field(ge=1)
    channels_last: bool
    device: Literal["auto", "cpu", "cuda"]
    nproc: int = Field(ge=1)                # processes under torchrun, each a block of samples

    @model_validator(mode="after")
    def _unique(self) -> "ExplainConfig":
        for key in ("instance_cells", "group_cells"):
            names = [c.name for c in getattr(self, key)]
            if len(set(names)) != len(names):
                raise ValueError(f"{key}: cell names must be unique (got {names})")
        if len(set(self.methods)) != len(self.methods):
            raise ValueError(f"methods: listed twice (got {self.methods})")
        return self


class BasinConfig(Strict):
    """The basin stage: group DeepLift at many ocean cells (the paper's future work, Sec. 5).

    ``n_cells: 0`` explains every ocean cell; otherwise a sample stratified by latitude band,
    drawn with the top-level ``seed``.
    """

    n_cells: int = Field(ge=0)
    band_degrees: float = Field(gt=0)   # latitude bands of the stratified sample
    max_samples: int = Field(ge=1)      # per cell, evenly spaced over the training split
    batch_size: int = Field(ge=1)
    cells_per_pass: int = Field(ge=1)   # output cells sharing one forward pass
    channels_last: bool
    pin_memory: bool                    # CUDA: batches through page-locked memory (no-op on a CPU)
    device: Literal["auto", "cpu", "cuda"]
    nproc: int = Field(ge=1)            # processes under torchrun, each a block of cells


class AblateConfig(Strict):
    """The ablate stage (paper Sec. 4.3, Fig. 5): a box of the input set to the baseline."""

    box: Box
    halo: int = Field(ge=0)      # cells around the box counted as "near"
    max_samples: int = Field(ge=1)
    batch_size: int = Field(ge=1)


class ScoreConfig(Strict):
    """The score stage: every method of ``explain.methods`` against the exact contributions.

    Sized for a 2-core CPU (docs/performance.md): Integrated Gradients
    costs ``n_steps`` forward-backward passes per sample, so it gets its own, smaller step count.
    """

    max_samples: int = Field(ge=1)     # training samples per group cell, the first ones
    batch_size: int = Field(ge=1)
    n_steps: int = Field(ge=2)         # Integrated Gradients


class BandConfig(Strict):
    """The band stage: the range of each measure over near-optimal linear predictors
    (docs/measures.md, "Equivalence band"), at the group cells on the group samples."""

    radii: list[int] = Field(min_length=1)            # cells: square neighbourhoods of the ridge fits
    months: list[int] = Field(min_length=1)           # the last input months each fit uses
    penalties: list[float] = Field(min_length=1)      # multiples of the mean eigenvalue of X^T X
    tolerance: float = Field(gt=0)                    # near-optimal: val MSE <= (1 + tolerance) x best

    @model_validator(mode="after")
    def _positive(self) -> "BandConfig":
        if any(r < 0 for r in self.radii) or any(p <= 0 for p in self.penalties) or any(m < 1 for m in self.months):
            raise ValueError(f"band.radii must be >= 0, band.months >= 1 and band.penalties > 0 (got "
                             f"{self.radii}, {self.months}, {self.penalties})")
        return self


class SanityConfig(Strict):
    """The sanity stage: cascading re-initialisation of the trained network (Adebayo et al. 2018)."""

    seed: int                          # the re-initialisation draws
    cell: str | None                   # a name among explain.group_cells; None: the first
    max_samples: int = Field(ge=1)
    batch_size: int = Field(ge=1)
    n_steps: int = Field(ge=2)         # Integrated Gradients


class FaithfulnessConfig(Strict):
    """The faithfulness stage: every method perturbed by its own importance, no truth needed.

    Sized for a 2-core CPU (docs/performance.md): each curve point is one forward pass, so the
    cost is methods x cells x samples x 2 scales x 2 baselines x fractions forwards, plus
    samples x 2 scales x 2 baselines x subsets for the faithfulness correlation.
    """

    max_samples: int = Field(ge=1)        # training samples per group cell, the first ones
    batch_size: int = Field(ge=1)         # samples per attribution batch
    forward_batch: int = Field(ge=1)      # perturbed inputs per forward pass
    n_steps: int = Field(ge=2)            # Integrated Gradients
    fractions: list[float] = Field(min_length=1)   # shares of the units removed (deletion curve)
    subsets: int = Field(ge=3)            # faithfulness correlation: random subsets per sample
    subset_fraction: float = Field(gt=0, lt=1)     # ... each this share of the units
    noise: float = Field(ge=0)            # impute baseline: noise std (normalised anomaly units)
    sweeps: int = Field(ge=0)             # impute baseline: Jacobi sweeps toward ROAD's solution
    alpha: float = Field(gt=0, lt=1)      # validated: Holm-adjusted permutation p below this
    min_samples: int = Field(ge=1)        # ... and at least this many samples per cell

    @model_validator(mode="after")
    def _ladder(self) -> "FaithfulnessConfig":
        q = self.fractions
        if any(not 0 < v <= 1 for v in q) or any(b <= a for a, b in zip(q, q[1:])):
            raise ValueError(f"fractions must increase strictly within (0, 1]; got {q}")
        return self


# Checks across sections: each takes the params (the whole file's, or a stage's view that
# declares both sides) and raises ValueError naming both keys.

def cells_in_data_box(p) -> None:
    """Every explained cell lies inside ``data.box``."""
    box = p.data.box
    for key in ("instance_cells", "group_cells"):
        for i, c in enumerate(getattr(p.explain, key)):
            if not (box.lat_min <= c.lat <= box.lat_max and box.lon_min <= c.lon <= box.lon_max):
                raise ValueError(f"explain.{key}.{i} ({c.name}: {c.lat}, {c.lon}) lies outside "
                                 f"data.box {box.model_dump()}")


def ablate_box_in_data_box(p) -> None:
    """``ablate.box`` lies inside ``data.box`` and holds at least one grid cell centre."""
    box, inner, resolution = p.data.box, p.ablate.box, p.data.resolution
    if not box.contains(inner):
        raise ValueError(f"ablate.box {inner.model_dump()} lies outside data.box {box.model_dump()}")

    def any_centre(lo: float, hi: float, origin: float) -> bool:
        k = math.ceil((lo - origin) / resolution - 0.5)          # first centre >= lo
        return origin + (k + 0.5) * resolution <= hi

    if not (any_centre(inner.lat_min, inner.lat_max, box.lat_min)
            and any_centre(inner.lon_min, inner.lon_max, box.lon_min)):
        raise ValueError(f"ablate.box {inner.model_dump()} holds no grid cell centre "
                         f"(cells of {resolution:g} degrees from lat {box.lat_min:g}, "
                         f"lon {box.lon_min:g}): enlarge it")


def sanity_cell_named(p) -> None:
    """``sanity.cell`` is one of ``explain.group_cells`` (or null: the first)."""
    names = [c.name for c in p.explain.group_cells]
    if p.sanity.cell is not None and p.sanity.cell not in names:
        raise ValueError(f"sanity.cell {p.sanity.cell!r} is not among explain.group_cells {names}")


def instance_sample_in_split(p) -> None:
    """``explain.instance_sample`` is a position in the training split."""
    if p.explain.instance_sample >= p.window.n_train:
        raise ValueError(f"explain.instance_sample ({p.explain.instance_sample}) must be below "
                         f"window.n_train ({p.window.n_train})")
