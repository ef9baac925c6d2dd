"""The whole of ``params.yaml`` as one typed, strict model.

One section per stage, named like the stage (``data`` for fetch, ``smooth``, ``window``, ``model``
and ``train``, ...), plus the top-level ``lead`` and ``seed``. Each section is defined in the layer
that uses it; this module assembles them and checks what spans sections (a cell inside the box).
"""

from __future__ import annotations

import math
from pathlib import Path

import yaml
from pydantic import Field, ValidationError, model_validator

from climemu.attribution.config import (AblateConfig, BandConfig, BasinConfig, CellSpec, ExplainConfig,
                                        FaithfulnessConfig, SanityConfig, ScoreConfig)
from climemu.core.config import Box, ConfigError, Strict, _describe
from climemu.data.config import DataConfig, EsgfConfig, PangeoConfig, SmoothConfig, WindowConfig
from climemu.forecast.config import EvaluateConfig
from climemu.models.config import ModelConfig
from climemu.report.config import ReportConfig
from climemu.training.config import TrainConfig
from climemu.truth.config import IdentifyConfig, SyntheticConfig

__all__ = ["AblateConfig", "BandConfig", "BasinConfig", "Box", "CellSpec", "ConfigError", "DataConfig", "EsgfConfig",
           "EvaluateConfig", "ExplainConfig", "FaithfulnessConfig", "IdentifyConfig", "ModelConfig", "PangeoConfig", "Params",
           "ReportConfig", "SanityConfig", "ScoreConfig", "SmoothConfig", "SyntheticConfig", "TrainConfig", "WindowConfig",
           "load_params", "parse_params"]


PARAMS_FILE = "params.yaml"


class Params(Strict):
    """Every value lives in ``params.yaml``: no field has a default, so a missing key is an error."""

    lead: int = Field(ge=1, le=36)   # months ahead of the last input month
    seed: int
    data: DataConfig
    identify: IdentifyConfig
    smooth: SmoothConfig
    window: WindowConfig
    model: ModelConfig
    train: TrainConfig
    explain: ExplainConfig
    basin: BasinConfig
    ablate: AblateConfig
    evaluate: EvaluateConfig
    score: ScoreConfig
    band: BandConfig
    sanity: SanityConfig
    faithfulness: FaithfulnessConfig
    report: ReportConfig

    @model_validator(mode="after")
    def _inside_box(self) -> "Params":
        box = self.data.box
        for key in ("instance_cells", "group_cells"):
            for i, c in enumerate(getattr(self.explain, key)):
                if not (box.lat_min <= c.lat <= box.lat_max and box.lon_min <= c.lon <= box.lon_max):
                    raise ValueError(f"explain.{key}.{i} ({c.name}: {c.lat}, {c.lon}) lies outside "
                                     f"data.box {box.model_dump()}")
        cell = self.identify.cell      # identify skips real data (no truth): only synthetic needs it
        if self.data.source == "synthetic" and not (box.lat_min <= cell.lat <= box.lat_max
                                                    and box.lon_min <= cell.lon <= box.lon_max):
            raise ValueError(f"identify.cell ({cell.lat}, {cell.lon}) lies outside data.box "
                             f"{box.model_dump()}")
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


def parse_params(raw: dict, source: str = PARAMS_FILE) -> Params:
    try:
        return Params.model_validate(raw or {})
    except ValidationError as e:
        raise ConfigError(_describe(e, source)) from None


def load_params(path: str | Path = PARAMS_FILE) -> Params:
    path = Path(path)
    try:
        with path.open() as f:
            raw = yaml.safe_load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path} not found in {Path.cwd()}: run the stages from the repository "
                          "root (as `dvc repro` does)") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path} is not valid YAML: {' '.join(str(e).split())}; fix the file "
                          "or restore it with `git checkout params.yaml`") from None
    if raw is not None and not isinstance(raw, dict):
        raise ConfigError(f"{path} must hold a mapping of sections (data, smooth, ...), "
                          f"found a {type(raw).__name__}")
    return parse_params(raw, str(path))
