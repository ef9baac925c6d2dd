"""The synthetic source's parameters: the known linear stochastic model (``data.synthetic``).
"""

from __future__ import annotations

from pydantic import Field, model_validator

from climemu.core.config import Box, Strict


class Memory(Strict):
    """Local dynamics of a set of cells: memory, reach of the local operator, re-emergence."""

    persistence: float = Field(gt=0)        # sum of the local lag weights phi_1..phi_K
    decay: float = Field(gt=0, le=1)        # phi_k proportional to decay**(k-1): small = fast memory
    kernel_radius: int = Field(ge=0, le=40)  # cells: reach of the local operator K_r
    kernel_self: float = Field(ge=0, lt=1)  # the cell's own weight in the local operator
    reemergence: float = Field(ge=0)        # total weight on the ``reemergence_lags``


class Region(Memory):
    """A box (degrees) whose cells follow their own :class:`Memory` (a planted counterpart)."""

    name: str = Field(min_length=1)
    box: Box


class SyntheticConfig(Memory):
    """The known linear stochastic model behind the synthetic North Atlantic (docs/data.md).

    a[t+1] = sum_k phi_k(p) K a[t+1-k] + gain * 1_target * mean_source(a[t+1-lag]) + noise[t+1],
    with phi_k(p) from the :class:`Memory` of the cell's region (or these base values), the
    re-emergence weight spread evenly over ``reemergence_lags``, K = kernel_self * I +
    (1 - kernel_self) * K_r, and noise whose variance is ``noise_white`` spatially white and the
    rest Gaussian-correlated over ``noise_length`` cells.
    """

    seed: int
    memory_months: int = Field(ge=1, le=36)
    reemergence_lags: list[int] = Field(min_length=1)
    regions: list[Region]
    noise_std: float = Field(gt=0)          # degC, innovation std per month
    noise_length: float = Field(ge=0)       # cells, Gaussian sigma of the correlated noise
    noise_white: float = Field(ge=0, le=1)  # share of the noise variance that is spatially white
    seasonal_cycle: bool
    tele_gain: float = Field(ge=0)
    tele_lag: int = Field(ge=1, le=36)
    source_box: Box
    target_box: Box
    spinup_months: int = Field(ge=0)

    @property
    def order(self) -> int:
        """K: the months a[t+1] depends on (at most 36, so the 36 input months hold the state)."""
        lags = self.reemergence_lags if any(m.reemergence > 0 for m in self.memories()) else []
        return max([self.memory_months, self.tele_lag, *lags])

    def memories(self) -> list[Memory]:
        """The base memory first, then each region's."""
        return [self, *self.regions]

    @model_validator(mode="after")
    def _stable(self) -> "SyntheticConfig":
        # Each lag operator is row-stochastic times phi_k(p) (plus the gain on one lag), so a row
        # sum of persistence + reemergence + gain < 1 bounds the companion's infinity norm,
        # hence its spectral radius.
        for m in self.memories():
            total = m.persistence + m.reemergence + self.tele_gain
            if total >= 1:
                where = f"region {m.name!r}" if isinstance(m, Region) else "the base memory"
                raise ValueError(
                    f"{where}: persistence + reemergence + tele_gain = {total:g} must be < 1 "
                    "for a stable (stationary) process")
        if self.tele_lag > self.memory_months:
            raise ValueError(f"tele_lag ({self.tele_lag}) must not exceed memory_months "
                             f"({self.memory_months})")
        if any(not 1 <= lag <= 36 for lag in self.reemergence_lags):
            raise ValueError(f"reemergence_lags {self.reemergence_lags} must lie in 1..36 "
                             "(the input window holds 36 months)")
        names = [r.name for r in self.regions]
        if len(set(names)) != len(names):
            raise ValueError(f"region names must be unique; got {names}")
        for k, a in enumerate(self.regions):
            for b in self.regions[k + 1:]:
                if (a.box.lat_min < b.box.lat_max and b.box.lat_min < a.box.lat_max
                        and a.box.lon_min < b.box.lon_max and b.box.lon_min < a.box.lon_max):
                    raise ValueError(f"regions {a.name!r} and {b.name!r} overlap; each cell "
                                     "follows one region")
        return self


class Point(Strict):
    """A position in degrees (the nearest grid cell centre is used, never an index)."""

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=360)


class OlsConfig(Strict):
    """Least squares on a long run of the generator on a small box must find the exact answer."""

    box: Box                                  # degrees; the cell nearest its centre is regressed
    years: int = Field(ge=10)                 # simulated years (more: smaller sampling error)
    correlation_min: float = Field(gt=0, le=1)   # Pearson(fit, exact) over all features
    error_max: float = Field(gt=0)            # max |fit - exact| as a share of max |exact|


class IdentifyConfig(Strict):
    """The identify stage: can the data pin the truth down? (docs/data.md, "What the data can decide")"""

    cell: Point                               # the neighbourhood's centre
    radius_cells: int = Field(ge=0, le=40)    # square of 2 radius + 1 cells around it
    months: int = Field(ge=1, le=36)          # the last input months used as features
    condition_max: float = Field(gt=1)        # identifiable if the condition number is at most this
    eigen_min_share: float = Field(gt=0)      # ... and eig_min >= this * noise_std**2
    ols: OlsConfig


def identify_cell_in_data_box(p) -> None:
    """``identify.cell`` lies inside ``data.box`` (synthetic only: real data has no truth to identify)."""
    box, cell = p.data.box, p.identify.cell
    if p.data.source == "synthetic" and not (box.lat_min <= cell.lat <= box.lat_max
                                             and box.lon_min <= cell.lon <= box.lon_max):
        raise ValueError(f"identify.cell ({cell.lat}, {cell.lon}) lies outside data.box "
                         f"{box.model_dump()}")
