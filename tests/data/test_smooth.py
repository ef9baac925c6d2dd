import numpy as np
import pytest

from climemu.data.smooth import smooth, trailing_mean
from tests.helpers import make_sst


def test_trailing_mean_of_a_ramp():
    # x[t] = t: the mean of t-11..t is t - 5.5, first value at t = 11
    x = np.arange(30, dtype=np.float32)[:, None, None] * np.ones((1, 2, 3), np.float32)
    out = trailing_mean(x, 12)
    assert out.shape == (19, 2, 3)
    np.testing.assert_allclose(out[:, 0, 0], np.arange(11, 30) - 5.5)


def test_trailing_mean_is_causal():
    # A spike at month 20 appears in smoothed months 20..31 only, never before: not centred.
    x = np.zeros((40, 1, 1), np.float32)
    x[20] = 12.0
    out = trailing_mean(x, 12)[:, 0, 0]        # index i is month i + 11
    months = np.arange(11, 40)
    np.testing.assert_array_equal(out, np.where((months >= 20) & (months <= 31), 1.0, 0.0))


def test_land_stays_nan_and_window_one_is_identity():
    x = np.random.default_rng(0).normal(size=(24, 2, 2)).astype(np.float32)
    x[:, 0, 1] = np.nan
    land = np.zeros((2, 2), bool)
    land[0, 1] = True
    ds = make_sst(x, ocean=~land)
    out = smooth(ds, 12)
    assert out.sizes["time"] == 13 and out.attrs["smoothing_months"] == 12
    assert np.isnan(out["tos"].values[:, 0, 1]).all()
    assert str(out["time"].values[0]) == str(ds["time"].values[11])
    same = smooth(ds, 1)
    np.testing.assert_array_equal(same["tos"].values, ds["tos"].values)


def test_too_short_record_is_refused():
    with pytest.raises(ValueError, match="longer than the record"):
        trailing_mean(np.zeros((5, 1, 1), np.float32), 12)


def test_the_length_is_given_per_source_and_every_source_has_one():
    from pydantic import ValidationError

    from climemu.data.config import SOURCES, SmoothConfig
    from tests.helpers import section
    cfg = section("smooth")
    assert set(cfg.months) == set(SOURCES)            # params.yaml names every source
    assert cfg.months["synthetic"] == 1 and cfg.months["pangeo"] == 12   # docs/data.md
    with pytest.raises(ValidationError, match=r"missing \['esgf', 'pangeo'\]"):
        SmoothConfig(months={"synthetic": 1, "local": 12})
    with pytest.raises(ValidationError, match="1 to 120"):
        SmoothConfig(months={"synthetic": 0, "local": 12, "esgf": 12, "pangeo": 12})
