"""The smooth stage: a trailing 12-month moving average (paper Sec. 2).

Trailing, not centred: the value at month t averages months t-11..t. A centred window would
put up to six future months into the last input frame and silently shorten the real lead
(docs/data.md, "Keeping the leads honest").
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from climemu.core.config import ConfigError
from climemu.data.gaps import check_ocean


def trailing_mean(values: np.ndarray, months: int, chunk: int = 8) -> np.ndarray:
    """Mean over months t-months+1..t along axis 0; drops the first ``months - 1`` months.

    (time, lat, lon) float32 -> (time - months + 1, lat, lon) float32. Sums run in float64
    (a float32 cumulative sum over 9,600 months loses digits) over ``chunk`` latitude rows at a
    time, so memory stays near the size of the output.
    """
    if months < 1:
        raise ConfigError(f"smooth.months must be >= 1 (got {months})")
    n_time = values.shape[0]
    if n_time < months:
        raise ConfigError(f"smooth.months={months} is longer than the record ({n_time} months): "
                          "lower smooth.months or fetch more data.years")
    out = np.empty((n_time - months + 1,) + values.shape[1:], dtype=np.float32)
    for start in range(0, values.shape[1], chunk):
        rows = values[:, start:start + chunk].astype(np.float64)      # (time, chunk, lon)
        csum = np.cumsum(rows, axis=0)
        window_sum = csum[months - 1:].copy()
        window_sum[1:] -= csum[:-months]
        out[:, start:start + chunk] = window_sum / months
    return out


def smooth(ds: xr.Dataset, months: int) -> xr.Dataset:
    """Smoothed copy of a fetched dataset; ``months == 1`` returns it unchanged (ground-truth runs).

    A month with missing ocean values is refused (climemu.data.gaps): smoothing would spread it.
    """
    check_ocean(ds, ds.encoding.get("source", "the fetched data"))
    out = ds.isel(time=slice(months - 1, None))
    if months > 1:
        out = out.copy()
        out["tos"] = (("time", "lat", "lon"), trailing_mean(ds["tos"].values, months),
                      ds["tos"].attrs)
        out["tos"].attrs["cell_methods"] = f"time: mean over {months} months (trailing)"
    out.attrs["smoothing_months"] = months
    out.attrs["smoothing"] = "trailing moving average, months t-(n-1)..t"
    return out
