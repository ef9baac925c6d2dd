import numpy as np
import pytest
import xarray as xr

from climemu.config import ConfigError, WindowConfig
from climemu.data.window import (SPLITS, WindowedData, build_windows, gap_months, plan_splits,
                                 touched_months)
from tests.helpers import make_sst

CFG = WindowConfig(input_months=36, n_train=10, n_val=5, n_test=4, stride=2)


def test_counts_and_first_target():
    t = plan_splits(1000, CFG, lead=6, smoothing_months=12)
    assert [len(t[s]) for s in SPLITS] == [10, 5, 4]
    # first target: 36 inputs (months 0..35), then lead 6 -> month 41
    assert t["train"][0] == 41 and t["train"][1] == 43       # stride 2


@pytest.mark.parametrize("lead", [1, 6, 9])
def test_gaps_and_no_raw_month_shared(lead):
    smoothing = 12
    t = plan_splits(2000, CFG, lead, smoothing)
    gap = gap_months(36, lead, smoothing)
    assert gap == 36 + lead + 11
    raw = {}
    for s in SPLITS:
        first, last = touched_months(t[s], 36, lead)
        # every raw month behind a smoothed month t: t-11..t (offset of smoothing in raw index)
        raw[s] = set(range(first - (smoothing - 1), last + 1))
    assert not raw["train"] & raw["val"] and not raw["val"] & raw["test"]
    assert touched_months(t["val"], 36, lead)[0] - touched_months(t["train"], 36, lead)[1] == gap + 1
    assert touched_months(t["test"], 36, lead)[0] - touched_months(t["val"], 36, lead)[1] == gap + 1


def test_too_many_samples_named():
    with pytest.raises(ConfigError, match=r"window.n_train=10.*holds 100"):
        plan_splits(100, CFG, lead=1, smoothing_months=12)


def _record(n_time=400, n_lat=3, n_lon=4):
    rng = np.random.default_rng(1)
    return rng.normal(20, 1, size=(n_time, n_lat, n_lon)).astype(np.float32)


def test_normalisation_uses_the_training_period_only():
    x = _record()
    ds = make_sst(x)
    ds.attrs["smoothing_months"] = 1
    w = build_windows(ds, CFG, lead=1)
    first, last = touched_months(w["target_train"].values, 36, 1)
    # Poison every month outside the training period: climatology and scale must not move.
    poisoned = x.copy()
    poisoned[last + 1:] = 1e6
    ds2 = make_sst(poisoned)
    ds2.attrs["smoothing_months"] = 1
    w2 = build_windows(ds2, CFG, lead=1)
    np.testing.assert_array_equal(w["climatology"].values, w2["climatology"].values)
    assert float(w["scale"]) == float(w2["scale"])
    # And by hand: January climatology of cell (0, 0) = mean over training-period Januaries
    jan = np.arange(first, last + 1)[np.arange(first, last + 1) % 12 == 0]
    np.testing.assert_allclose(w["climatology"].sel(month=1).values[0, 0], x[jan, 0, 0].mean(), rtol=1e-5)


def test_windows_are_views_and_labels(tmp_path):
    x = _record()
    ocean = np.ones((3, 4), bool)
    ocean[0, 0] = False
    x[:, 0, 0] = np.nan
    ds = make_sst(x, ocean=ocean)
    ds.attrs["smoothing_months"] = 1
    w = build_windows(ds, CFG, lead=6)
    data = WindowedData(ds, w)
    view = data.window("train", 0)
    assert view.shape == (36, 3, 4) and np.shares_memory(view, data.x)
    t = int(w["target_train"][0])
    # month -1 (channel 35) is `lead` months before the target
    clim = w["climatology"].values
    expect_last = (x[t - 6, 1, 1] - clim[(t - 6) % 12, 1, 1]) / float(w["scale"])
    np.testing.assert_allclose(view[35, 1, 1], expect_last, rtol=1e-5)
    np.testing.assert_allclose(data.targets_of("train", [0])[0, 0, 1, 1],
                               (x[t, 1, 1] - clim[t % 12, 1, 1]) / float(w["scale"]), rtol=1e-5)
    assert (data.x[:, 0, 0] == 0).all()          # land carries zero anomaly
    assert data.inputs("train", [0, 1]).shape == (2, 36, 3, 4)


def test_test_split_is_sealed():
    ds = make_sst(_record())
    ds.attrs["smoothing_months"] = 1
    data = WindowedData(ds, build_windows(ds, CFG, lead=1))
    with pytest.raises(PermissionError):
        data.inputs("test", [0])
    opened = WindowedData(ds, build_windows(ds, CFG, lead=1), allow_test=True)
    assert opened.n_samples("test") == 4
