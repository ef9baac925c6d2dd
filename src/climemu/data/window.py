"""The window stage: chronological splits, normalisation fitted on train, zero-copy windows.

A sample is (36 input months, 1 target month ``lead`` months after the last input). Month -1
is the last input month, month -36 the first (paper Sec. 2, Fig. 3). Samples are stored as
index tables (the target month's index in the smoothed record); the windows themselves are
views into one normalised array, never 36 copies of it.

Leakage rules (docs/data.md): train, validation and test are consecutive periods in
that order, separated by gaps of ``input_months + lead + (smoothing_months - 1)`` months so no
raw month behind any input or target of one split lies in another; the climatology and the
scale are fitted on the training period only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import xarray as xr

from climemu.core.config import ConfigError
from climemu.data.config import WindowConfig
from climemu.data.gaps import OceanGapError, STAGE_ADVICE, check_ocean, describe_gaps, gap_counts_array

SPLITS = ("train", "val", "test")
_COUNT_KEYS = {"train": "n_train", "val": "n_val", "test": "n_test"}


def month_labels(input_months: int = 36) -> np.ndarray:
    """Input month labels -36..-1 (channel 0 is month -36)."""
    return np.arange(-input_months, 0)


def gap_months(input_months: int, lead: int, smoothing_months: int) -> int:
    return input_months + lead + (smoothing_months - 1)


def plan_splits(n_time: int, cfg: WindowConfig, lead: int, smoothing_months: int) -> dict[str, np.ndarray]:
    """Target-month indices per split, checked against the record length before any work."""
    gap = gap_months(cfg.input_months, lead, smoothing_months)
    targets, first_touched = {}, 0
    for split in SPLITS:
        n = getattr(cfg, _COUNT_KEYS[split])
        first_target = first_touched + cfg.input_months + lead - 1
        targets[split] = first_target + cfg.stride * np.arange(n)
        first_touched = int(targets[split][-1]) + gap + 1
    need = int(targets["test"][-1]) + 1
    if need > n_time:
        raise ConfigError(
            f"window.n_train={cfg.n_train}, window.n_val={cfg.n_val}, window.n_test={cfg.n_test} "
            f"with window.stride={cfg.stride} and lead={lead} need {need} months (gaps of {gap} "
            f"months between splits), but the smoothed record holds {n_time}: lower the counts "
            "or the stride, or fetch more years")
    return targets


def touched_months(targets: np.ndarray, input_months: int, lead: int) -> tuple[int, int]:
    """First and last month index read by a split's inputs and targets (inclusive)."""
    return int(targets[0]) - lead - input_months + 1, int(targets[-1])


def fit_normalisation(tos: xr.DataArray) -> tuple[xr.DataArray, float]:
    """Per-cell calendar-month climatology (degC) and one scale (std of anomalies, degC).

    Call it with the training period only.
    """
    clim = tos.groupby("time.month").mean("time")                     # (month, lat, lon)
    anomalies = tos.groupby("time.month") - clim
    scale = float(np.nanstd(anomalies.values))
    return clim.astype(np.float32), scale


def build_windows(smoothed: xr.Dataset, cfg: WindowConfig, lead: int) -> xr.Dataset:
    """Index tables, normalisation and metadata: everything train and later stages need."""
    check_ocean(smoothed, smoothed.encoding.get("source", "the smoothed data"))
    smoothing = int(smoothed.attrs.get("smoothing_months", 1))
    targets = plan_splits(smoothed.sizes["time"], cfg, lead, smoothing)
    first, last = touched_months(targets["train"], cfg.input_months, lead)
    clim, scale = fit_normalisation(smoothed["tos"].isel(time=slice(first, last + 1)))
    time = smoothed["time"].values
    data = {
        "climatology": clim.assign_attrs(units="degC", long_name="training-period climatology"),
        "scale": xr.DataArray(scale, attrs={"units": "degC", "long_name": "std of training anomalies"}),
        "ocean": smoothed["ocean"],
    }
    for split in SPLITS:
        dim = f"sample_{split}"
        data[f"target_{split}"] = xr.DataArray(
            targets[split].astype(np.int32), dims=dim,
            coords={f"target_time_{split}": (dim, time[targets[split]])},
            attrs={"long_name": f"index of the target month in the smoothed record ({split})"})
    periods = {s: touched_months(targets[s], cfg.input_months, lead) for s in SPLITS}
    return xr.Dataset(data, attrs={
        "lead": lead, "input_months": cfg.input_months, "stride": cfg.stride,
        "smoothing_months": smoothing,
        "gap_months": gap_months(cfg.input_months, lead, smoothing),
        **{f"period_{s}": f"{time[a]} .. {time[b]}" for s, (a, b) in periods.items()},
        "normalisation": "climatology and scale fitted on the training period only",
    })


class WindowedData:
    """Normalised anomalies (one float32 array) and the split index tables.

    ``inputs``/``targets`` build batches from views of that array. The test split is sealed
    unless ``allow_test=True``: only the final evaluation may read it.
    """

    def __init__(self, smoothed: xr.Dataset, windows: xr.Dataset, allow_test: bool = False):
        self.lead = int(windows.attrs["lead"])
        self.input_months = int(windows.attrs["input_months"])
        self.scale = float(windows["scale"])
        self.ocean = windows["ocean"].values.astype(bool)               # (lat, lon)
        self.lat, self.lon = smoothed["lat"].values, smoothed["lon"].values
        self.time = smoothed["time"].values
        self.climatology = windows["climatology"].values                 # (12, lat, lon)
        self.targets = {s: windows[f"target_{s}"].values.astype(np.int64) for s in SPLITS}
        self.allow_test = allow_test
        self.x = self._normalise(smoothed)                               # (time, lat, lon)

    @classmethod
    def open(cls, smoothed_path: str | Path, windows_path: str | Path, **kw) -> "WindowedData":
        with xr.open_dataset(smoothed_path) as smoothed, xr.open_dataset(windows_path) as windows:
            return cls(smoothed, windows.load(), **kw)

    def _normalise(self, smoothed: xr.Dataset) -> np.ndarray:
        x = smoothed["tos"].values.astype(np.float32, copy=False)        # (time, lat, lon)
        first_month = int(smoothed["time"].dt.month.values[0]) - 1        # 0 = January
        for m in range(12):   # strided views: in place, no temporary of the whole array
            x[(m - first_month) % 12::12] -= self.climatology[m]
        x /= self.scale
        # No NaN over the ocean may reach training: one would turn every loss into NaN.
        message = describe_gaps(gap_counts_array(x, self.ocean), self.time, int(self.ocean.sum()),
                                smoothed.encoding.get("source", "the smoothed data"), advice=STAGE_ADVICE)
        if message:
            raise OceanGapError(message)
        x[:, ~self.ocean] = 0.0   # land carries no signal; 0 is the climatology
        return x

    def n_samples(self, split: str) -> int:
        return len(self._targets(split))

    def _targets(self, split: str) -> np.ndarray:
        if split == "test" and not self.allow_test:
            raise PermissionError("the test split is read only by the final evaluation")
        return self.targets[split]

    def period(self, split: str) -> np.ndarray:
        """(months, lat, lon) view of every month a split reads (inputs and targets)."""
        first, last = touched_months(self._targets(split), self.input_months, self.lead)
        return self.x[first:last + 1]

    def target_index(self, split: str, positions) -> np.ndarray:
        return self._targets(split)[positions]

    def window(self, split: str, position: int) -> np.ndarray:
        """(36, lat, lon) view (no copy): months t-lead-35 .. t-lead for target month t."""
        start = int(self.target_index(split, position)) - self.lead - self.input_months + 1
        return self.x[start:start + self.input_months]

    def inputs(self, split: str, positions) -> torch.Tensor:
        """(B, 36, lat, lon) float32 batch: only the batch is copied, never the record."""
        return torch.from_numpy(np.stack([self.window(split, p) for p in np.atleast_1d(positions)]))

    def targets_of(self, split: str, positions) -> torch.Tensor:
        """(B, 1, lat, lon) float32 normalised target anomalies."""
        t = np.atleast_1d(self.target_index(split, positions))
        return torch.from_numpy(self.x[t][:, None])
