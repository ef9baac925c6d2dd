"""Sections of the data stages: fetch (``data``), ``smooth`` and ``window``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from climemu.core.config import Box, Strict
from climemu.truth.config import SyntheticConfig


class EsgfConfig(Strict):
    """``data.source: esgf``: search, then download over HTTP with checksums."""

    # Index nodes of the ESGF search API (esg-search, Solr JSON), tried in turn: nodes change and
    # go down. Any node that answers with ``distrib=true`` searches them all.
    index_nodes: list[str] = Field(min_length=1)
    timeout_s: float = Field(gt=0)     # per request: connect and each read
    retries: int = Field(ge=0)         # resumed attempts per file after a dropped connection
    # Relative paths are taken from the main repository's root, so queued experiments share it.
    # Not a DVC output: a re-run (or `dvc exp run`) keeps what is already downloaded and verified.
    download_dir: str = Field(min_length=1)

    @model_validator(mode="after")
    def _urls(self) -> "EsgfConfig":
        bad = [u for u in self.index_nodes if not u.startswith(("http://", "https://"))]
        if bad:
            raise ValueError(f"index_nodes must be http(s) URLs (got {bad})")
        return self


class PangeoConfig(Strict):
    """``data.source: pangeo``: the Pangeo CMIP6 intake-esm catalog (zarr stores, anonymous)."""

    catalog: str = Field(min_length=1)


Source = Literal["synthetic", "local", "esgf", "pangeo"]
SOURCES: tuple[str, ...] = Source.__args__


class DataConfig(Strict):
    """The fetch stage: where SST comes from and the box it is cut to."""

    source: Source
    box: Box
    resolution: float = Field(gt=0, le=10)   # degrees
    # [first, last] model years, inclusive; the paper's last 800 years of the 1,200-year run.
    years: list[int] = Field(min_length=2, max_length=2)
    paths: str | None                        # local: a glob of CMIP6 netCDF files
    esgf: EsgfConfig
    pangeo: PangeoConfig
    synthetic: SyntheticConfig

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
    """The smooth stage: trailing moving average, its length per source, written out for every
    source so that ``params.yaml`` and ``dvc params diff`` show it (``1`` switches it off).

    The paper's 12-month mean for CMIP6 (its data); none for the synthetic source, where without
    it (and without the seasonal cycle) the truth is the optimal predictor (docs/data.md, "The
    exact setting")."""

    months: dict[Source, int]

    @model_validator(mode="after")
    def _check(self) -> "SmoothConfig":
        missing = [s for s in SOURCES if s not in self.months]
        if missing:
            raise ValueError(f"months: give the trailing mean's length for every source; missing "
                             f"{missing} (e.g. months: {{synthetic: 1, local: 12, esgf: 12, pangeo: 12}})")
        bad = {s: m for s, m in self.months.items() if not 1 <= m <= 120}
        if bad:
            raise ValueError(f"months: each length must be 1 to 120 months, got {bad}")
        return self


class WindowConfig(Strict):
    """The window stage: chronological sample counts (the paper: 1,280 train, 2,048 validation)."""

    input_months: int = Field(ge=1)
    n_train: int = Field(ge=1)
    n_val: int = Field(ge=1)
    n_test: int = Field(ge=1)
    stride: int = Field(ge=1)   # months between the targets of consecutive samples
