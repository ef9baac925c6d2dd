"""The monthly noleap (365-day) time axis of CMIP6 ocean files."""

from __future__ import annotations

import cftime
import numpy as np

CALENDAR = "noleap"
UNITS = "days since 0001-01-01 00:00:00"
_MONTH_START = np.cumsum([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])  # day of year


def monthly_time(first_year: int, n_months: int) -> tuple[np.ndarray, np.ndarray]:
    """Mid-month times and (time, 2) bounds as cftime noleap dates, as in CMIP6 Omon files."""
    months = np.arange(n_months)
    years, month = first_year + months // 12, months % 12
    start = (years - 1) * 365 + _MONTH_START[month]          # days since 0001-01-01
    end = (years - 1) * 365 + _MONTH_START[month + 1]
    mid = (start + end) / 2.0
    as_dates = lambda days: cftime.num2date(days, UNITS, calendar=CALENDAR)  # noqa: E731
    return as_dates(mid), np.stack([as_dates(start), as_dates(end)], axis=1)


def time_encoding() -> dict:
    """netCDF encoding that writes ``time`` and ``time_bnds`` with the same CF units."""
    return {"units": UNITS, "calendar": CALENDAR, "dtype": "float64"}
