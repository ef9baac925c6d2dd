"""The synthetic source's parameters: the known linear stochastic model (``data.synthetic``).
"""

from __future__ import annotations

from pydantic import Field, model_validator

from climemu.core.config import Box, Strict


class SyntheticConfig(Strict):
    """The known linear stochastic model behind the synthetic North Atlantic (docs/data.md).

    a[t+1] = sum_k phi_k K_r a[t-k] + gain * 1_target * mean_source(a[t+1-lag]) + noise[t+1]
    with phi_k proportional to decay**k and summing to ``persistence``.
    """

    seed: int
    memory_months: int = Field(ge=1, le=36)
    persistence: float = Field(gt=0)
    decay: float = Field(gt=0, le=1)
    kernel_radius: int = Field(ge=0, le=10)
    noise_std: float = Field(gt=0)          # degC, innovation std per month
    noise_length: float = Field(ge=0)       # cells, Gaussian sigma of the noise
    seasonal_cycle: bool
    tele_gain: float = Field(ge=0)
    tele_lag: int = Field(ge=1, le=36)
    source_box: Box
    target_box: Box
    spinup_months: int = Field(ge=0)

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
