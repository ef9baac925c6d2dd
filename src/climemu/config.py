"""Typed, strict configuration loaded from ``params.yaml``.

One section per stage, named like the stage (``data`` for fetch, ``smooth``, ``window``, ``model``
and ``train``), plus the top-level ``lead`` and ``seed``. Every model forbids unknown keys and
checks its values on construction, so a typo or an impossible value stops a stage before any
work starts, with a message that names the key (rule 5 of the house).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

PARAMS_FILE = "params.yaml"


class ConfigError(ValueError):
    """A parameter is missing, unknown or out of range; the message names the key."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Box(Strict):
    """A latitude-longitude box in degrees (longitudes in -180..360; a box may cross 0 E)."""

    lat_min: float = Field(ge=-90, le=90)
    lat_max: float = Field(ge=-90, le=90)
    lon_min: float = Field(ge=-180, le=360)
    lon_max: float = Field(ge=-180, le=360)

    @model_validator(mode="after")
    def _ordered(self) -> "Box":
        if self.lat_min >= self.lat_max:
            raise ValueError(f"lat_min ({self.lat_min}) must be below lat_max ({self.lat_max})")
        if self.lon_min >= self.lon_max:
            raise ValueError(f"lon_min ({self.lon_min}) must be below lon_max ({self.lon_max})")
        return self

    def contains(self, other: "Box") -> bool:
        return (self.lat_min <= other.lat_min and other.lat_max <= self.lat_max
                and self.lon_min <= other.lon_min and other.lon_max <= self.lon_max)


class SyntheticConfig(Strict):
    """The known linear stochastic model behind the synthetic North Atlantic (shared/design/data.md).

    a[t+1] = sum_k phi_k K_r a[t-k] + gain * 1_target * mean_source(a[t+1-lag]) + noise[t+1]
    with phi_k proportional to decay**k and summing to ``persistence``.
    """

    seed: int = 1234
    memory_months: int = Field(12, ge=1, le=36)
    persistence: float = Field(0.92, gt=0)
    decay: float = Field(0.4, gt=0, le=1)
    kernel_radius: int = Field(2, ge=0, le=10)
    noise_std: float = Field(0.3, gt=0)          # degC, innovation std per month
    noise_length: float = Field(3.0, ge=0)       # cells, Gaussian sigma of the noise
    seasonal_cycle: bool = True
    tele_gain: float = Field(0.06, ge=0)
    tele_lag: int = Field(3, ge=1, le=36)
    source_box: Box = Box(lat_min=15, lat_max=25, lon_min=-75, lon_max=-60)
    target_box: Box = Box(lat_min=50, lat_max=60, lon_min=-35, lon_max=-20)
    spinup_months: int = Field(240, ge=0)

    @model_validator(mode="after")
    def _stable(self) -> "SyntheticConfig":
        # Each lag operator is row-stochastic times |phi_k| (plus the gain on one lag), so
        # sum |phi_k| + gain < 1 bounds the companion's infinity norm, hence its spectral radius.
        if self.persistence + self.tele_gain >= 1:
            raise ValueError(
                f"persistence + tele_gain = {self.persistence + self.tele_gain:g} must be < 1 "
                "for a stable (stationary) process")
        if self.tele_lag > self.memory_months:
            raise ValueError(f"tele_lag ({self.tele_lag}) must not exceed memory_months "
                             f"({self.memory_months})")
        return self


# Index nodes of the ESGF search API (esg-search, Solr JSON), tried in turn: nodes change and go
# down (shared/design/data.md). Any node that answers with ``distrib=true`` searches them all.
ESGF_INDEX_NODES = (
    "https://esgf-node.ornl.gov/esgf-1-5-bridge",
    "https://esgf.ceda.ac.uk/esg-search/search",
    "https://esgf-data.dkrz.de/esg-search/search",
    "https://esgf-node.ipsl.upmc.fr/esg-search/search",
)
PANGEO_CATALOG = "https://storage.googleapis.com/cmip6/pangeo-cmip6.json"


class EsgfConfig(Strict):
    """``data.source: esgf``: search, then download over HTTP with checksums."""

    index_nodes: list[str] = Field(default_factory=lambda: list(ESGF_INDEX_NODES), min_length=1)
    timeout_s: float = Field(30.0, gt=0)     # per request: connect and each read
    retries: int = Field(3, ge=0)            # resumed attempts per file after a dropped connection
    # Relative paths are taken from the main repository's root, so queued experiments share it.
    # Not a DVC output: a re-run (or `dvc exp run`) keeps what is already downloaded and verified.
    download_dir: str = Field("data/downloads", min_length=1)

    @model_validator(mode="after")
    def _urls(self) -> "EsgfConfig":
        bad = [u for u in self.index_nodes if not u.startswith(("http://", "https://"))]
        if bad:
            raise ValueError(f"index_nodes must be http(s) URLs (got {bad})")
        return self


class PangeoConfig(Strict):
    """``data.source: pangeo``: the Pangeo CMIP6 intake-esm catalog (zarr stores, anonymous)."""

    catalog: str = Field(PANGEO_CATALOG, min_length=1)


class DataConfig(Strict):
    """The fetch stage: where SST comes from and the box it is cut to."""

    source: Literal["synthetic", "local", "esgf", "pangeo"] = "synthetic"
    box: Box = Box(lat_min=10, lat_max=80, lon_min=-100, lon_max=25)
    resolution: float = Field(1.0, gt=0, le=10)   # degrees
    # [first, last] model years, inclusive; the paper's last 800 years of the 1,200-year run.
    years: list[int] = Field(default_factory=lambda: [401, 1200], min_length=2, max_length=2)
    paths: str | None = None                      # local: a glob of CMIP6 netCDF files
    esgf: EsgfConfig = EsgfConfig()
    pangeo: PangeoConfig = PangeoConfig()
    synthetic: SyntheticConfig = SyntheticConfig()

    @model_validator(mode="after")
    def _check(self) -> "DataConfig":
        first, last = self.years
        if first < 1:
            raise ValueError(f"years: first year must be >= 1 (got {self.years})")
        if last < first:
            raise ValueError(f"years: last year {last} is before first year {first}")
        for name, span in (("lat", self.box.lat_max - self.box.lat_min),
                           ("lon", self.box.lon_max - self.box.lon_min)):
            cells = span / self.resolution
            if abs(cells - round(cells)) > 1e-6:
                raise ValueError(f"box {name} span {span:g} is not a multiple of resolution "
                                 f"{self.resolution:g}")
        if self.box.lon_max - self.box.lon_min > 360:
            raise ValueError(f"box spans more than 360 degrees of longitude ({self.box.model_dump()})")
        if self.source == "local" and not (self.paths and self.paths.strip()):
            raise ValueError("paths: data.source 'local' needs a glob of CMIP6 netCDF files "
                             "(e.g. data.paths='/data/cmip6/tos_Omon_CESM2_piControl_*.nc')")
        if self.source == "synthetic":   # the planted boxes matter only to the synthetic source
            for key in ("source_box", "target_box"):
                inner = getattr(self.synthetic, key)
                if not self.box.contains(inner):
                    raise ValueError(f"synthetic.{key} {inner.model_dump()} lies outside box "
                                     f"{self.box.model_dump()}")
        return self

    @property
    def n_months(self) -> int:
        return 12 * (self.years[1] - self.years[0] + 1)


class SmoothConfig(Strict):
    """The smooth stage: trailing moving average; ``months: 1`` switches it off."""

    months: int = Field(12, ge=1, le=120)


class WindowConfig(Strict):
    """The window stage: chronological sample counts (the paper: 1,280 train, 2,048 validation)."""

    input_months: int = Field(36, ge=1)
    n_train: int = Field(256, ge=1)
    n_val: int = Field(128, ge=1)
    n_test: int = Field(128, ge=1)
    stride: int = Field(1, ge=1)   # months between the targets of consecutive samples


class ModelConfig(Strict):
    arch: Literal["densenet", "densenet_fnn"] = "densenet"
    # Table 1 says nearest, the paper's text bicubic (shared/design/model.md).
    upsample: Literal["nearest", "bilinear", "bicubic"] = "nearest"
    fnn_channels: int = Field(1, ge=1)   # densenet_fnn: maps mixed by the bottleneck's Linear


class TrainConfig(Strict):
    epochs: int = Field(8, ge=1)
    batch_size: int = Field(16, ge=1)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(1e-5, ge=0)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    channels_last: bool = False
    num_threads: int = Field(0, ge=0)   # 0: torch's default
    # Processes under torchrun (DistributedDataParallel): NCCL on GPUs, gloo on CPU cores.
    # batch_size is the global batch; each process takes batch_size / nproc samples of it.
    nproc: int = Field(1, ge=1)

    @model_validator(mode="after")
    def _divisible(self) -> "TrainConfig":
        if self.batch_size % self.nproc:
            raise ValueError(f"batch_size ({self.batch_size}) must be a multiple of nproc "
                             f"({self.nproc}): each process takes an equal share of every batch")
        return self


METHOD_NAMES = ("deeplift", "integrated_gradients", "guided_backprop", "deeplift_shap",
                "saliency", "input_x_gradient")
Method = Literal["deeplift", "integrated_gradients", "guided_backprop", "deeplift_shap",
                 "saliency", "input_x_gradient"]


class CellSpec(Strict):
    """An output cell to explain, by position in degrees (the nearest grid cell is used)."""

    name: str = Field(min_length=1)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=360)


class ExplainConfig(Strict):
    """The explain stage (paper Sec. 3-4): instance and group explanations through Captum."""

    methods: list[Method] = Field(default_factory=lambda: list(METHOD_NAMES), min_length=1)
    group_method: Method = "deeplift"      # the paper's choice after Fig. 2
    n_steps: int = Field(32, ge=2)          # Integrated Gradients
    shap_baselines: Literal["zeros", "training"] = "zeros"   # the paper used zeros
    shap_n_baselines: int = Field(8, ge=2)
    instance_sample: int = Field(0, ge=0)   # position in the training split
    instance_cells: list[CellSpec] = Field(min_length=1, default_factory=lambda: [
        CellSpec(name="A", lat=66.5, lon=-40.5), CellSpec(name="B", lat=55.5, lon=-40.5),
        CellSpec(name="C", lat=35.5, lon=-30.5)])
    group_cells: list[CellSpec] = Field(min_length=1, default_factory=lambda: [
        CellSpec(name="target_box", lat=55.5, lon=-27.5), CellSpec(name="mid_atlantic", lat=40.5, lon=-45.5),
        CellSpec(name="subtropics", lat=25.5, lon=-40.5)])
    max_samples: int = Field(128, ge=1)
    # Group DeepLift runs every group cell from one forward pass (climemu.attribution.fast);
    # benchmarks/attribution.py, 2 CPU cores: 4 samples x 3 cells per pass, channels_last,
    # 32 ms per attribution, 3.4x plain Captum and 73% of the matmul-rate limit.
    batch_size: int = Field(4, ge=1)
    channels_last: bool = True
    device: Literal["auto", "cpu", "cuda"] = "auto"
    nproc: int = Field(1, ge=1)             # processes under torchrun, each a block of samples

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

    n_cells: int = Field(24, ge=0)
    band_degrees: float = Field(10.0, gt=0)   # latitude bands of the stratified sample
    max_samples: int = Field(32, ge=1)        # per cell, evenly spaced over the training split
    batch_size: int = Field(4, ge=1)
    cells_per_pass: int = Field(8, ge=1)      # output cells sharing one forward pass
    channels_last: bool = True
    device: Literal["auto", "cpu", "cuda"] = "auto"
    nproc: int = Field(1, ge=1)               # processes under torchrun, each a block of cells


class AblateConfig(Strict):
    """The ablate stage (paper Sec. 4.3, Fig. 5): a box of the input set to the baseline."""

    box: Box = Box(lat_min=35, lat_max=40, lon_min=-45, lon_max=-40)
    halo: int = Field(3, ge=0)      # cells around the box counted as "near"
    max_samples: int = Field(64, ge=1)
    batch_size: int = Field(16, ge=1)


class ScoreConfig(Strict):
    """The score stage: every method of ``explain.methods`` against the exact contributions.

    Sized for a 2-core CPU (shared/design/attribution.md; README, "Speed"): Integrated Gradients
    costs ``n_steps`` forward-backward passes per sample, so it gets its own, smaller step count.
    """

    max_samples: int = Field(8, ge=1)       # training samples per group cell, the first ones
    batch_size: int = Field(4, ge=1)
    n_steps: int = Field(16, ge=2)          # Integrated Gradients


class SanityConfig(Strict):
    """The sanity stage: cascading re-initialisation of the trained network (Adebayo et al. 2018)."""

    seed: int = 0                           # the re-initialisation draws
    cell: str | None = None                 # a name among explain.group_cells; None: the first
    max_samples: int = Field(4, ge=1)
    batch_size: int = Field(4, ge=1)
    n_steps: int = Field(16, ge=2)          # Integrated Gradients


class ReportConfig(Strict):
    """The report stage: the paper's findings as claims, with the rules that decide them.

    Each rule is a number a reader can change and see the verdict follow (reports/findings.md
    states every rule beside its numbers).
    """

    local_km: float = Field(1500.0, gt=0)        # finding 1: 90% of |attribution| within this radius
    spread_max: float = Field(0.02, gt=0)        # finding 3: largest std across cells of a month's share
    response_ratio_max: float = Field(0.1, gt=0)  # finding 4: network / true ablation response
    sanity_rank_max: float = Field(0.5, gt=0, le=1)   # a method "fails" above this rank correlation


class EvaluateConfig(Strict):
    """The evaluate stage: skill on validation and test beside honest baselines."""

    # Candidate numbers of EOFs for the linear inverse model; the one with the lowest validation
    # MSE is used (never test). One fixed number fails: at lead 1, 100 modes beat 20 (RMSE 0.317
    # vs 0.435 degC) while at leads 6-9 100 modes amplify noise (C(0)^-1 of ~50 effective
    # samples of 12-month-smoothed data) and do worse than climatology.
    lim_modes: list[int] = Field(default_factory=lambda: [2, 5, 10, 20, 50, 100], min_length=1)
    batch_size: int = Field(32, ge=1)
    figure_sample: int = Field(0, ge=0)   # the test sample drawn as the paper's Fig. 1

    @model_validator(mode="after")
    def _positive_modes(self) -> "EvaluateConfig":
        if any(m < 1 for m in self.lim_modes):
            raise ValueError(f"lim_modes must be positive (got {self.lim_modes})")
        return self


class Params(Strict):
    lead: int = Field(1, ge=1, le=36)   # months ahead of the last input month
    seed: int = 0
    data: DataConfig = DataConfig()
    smooth: SmoothConfig = SmoothConfig()
    window: WindowConfig = WindowConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    explain: ExplainConfig = ExplainConfig()
    basin: BasinConfig = BasinConfig()
    ablate: AblateConfig = AblateConfig()
    evaluate: EvaluateConfig = EvaluateConfig()
    score: ScoreConfig = ScoreConfig()
    sanity: SanityConfig = SanityConfig()
    report: ReportConfig = ReportConfig()

    @model_validator(mode="after")
    def _inside_box(self) -> "Params":
        box = self.data.box
        for key in ("instance_cells", "group_cells"):
            for i, c in enumerate(getattr(self.explain, key)):
                if not (box.lat_min <= c.lat <= box.lat_max and box.lon_min <= c.lon <= box.lon_max):
                    raise ValueError(f"explain.{key}.{i} ({c.name}: {c.lat}, {c.lon}) lies outside "
                                     f"data.box {box.model_dump()}")
        if not box.contains(self.ablate.box):
            raise ValueError(f"ablate.box {self.ablate.box.model_dump()} lies outside data.box "
                             f"{box.model_dump()}")
        if not _holds_cell_centre(self.ablate.box, box, self.data.resolution):
            raise ValueError(f"ablate.box {self.ablate.box.model_dump()} holds no grid cell centre "
                             f"(cells of {self.data.resolution:g} degrees from lat {box.lat_min:g}, "
                             f"lon {box.lon_min:g}): enlarge it")
        if self.evaluate.figure_sample >= self.window.n_test:
            raise ValueError(f"evaluate.figure_sample ({self.evaluate.figure_sample}) must be below "
                             f"window.n_test ({self.window.n_test})")
        names = [c.name for c in self.explain.group_cells]
        if self.sanity.cell is not None and self.sanity.cell not in names:
            raise ValueError(f"sanity.cell {self.sanity.cell!r} is not among explain.group_cells {names}")
        if self.explain.instance_sample >= self.window.n_train:
            raise ValueError(f"explain.instance_sample ({self.explain.instance_sample}) must be below "
                             f"window.n_train ({self.window.n_train})")
        return self


def _holds_cell_centre(inner: Box, grid: Box, resolution: float) -> bool:
    """Whether ``inner`` contains a cell centre of the regular grid on ``grid``."""
    def any_centre(lo: float, hi: float, origin: float) -> bool:
        k = math.ceil((lo - origin) / resolution - 0.5)          # first centre >= lo
        return origin + (k + 0.5) * resolution <= hi
    return (any_centre(inner.lat_min, inner.lat_max, grid.lat_min)
            and any_centre(inner.lon_min, inner.lon_max, grid.lon_min))


def _describe(error: ValidationError, source: str) -> str:
    lines = [f"invalid parameters in {source}:"]
    for e in error.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        quiet = e["type"] in ("extra_forbidden", "missing") or not e["loc"]
        got = "" if quiet else f" (got {e.get('input')!r})"
        lines.append(f"  {key}: {msg}{got}")
    return "\n".join(lines)


def parse_params(raw: dict, source: str = PARAMS_FILE) -> Params:
    try:
        return Params.model_validate(raw or {})
    except ValidationError as e:
        raise ConfigError(_describe(e, source)) from None


def load_params(path: str | Path = PARAMS_FILE) -> Params:
    path = Path(path)
    with path.open() as f:
        return parse_params(yaml.safe_load(f), str(path))
