"""Can the data pin the truth down? The rules of the identify stage, checked on worked examples
and on the generator itself, with a negative control that must fail (docs/data.md)."""

import json
import runpy

import numpy as np
import pytest
import yaml

from climemu.config import ConfigError
from climemu.core import paths, tracking
from climemu.core.errors import UserError
from climemu.truth.identifiability import (anomalies, cell_index, conditioning, decorrelation_km,
                                           least_squares_recovery, neighbourhood_features,
                                           simulate_box, autocorrelation)
from tests.helpers import ROOT, TINY, make_sst, merge, params, raw_params, section


def test_conditioning_of_independent_features_is_the_ratio_of_their_variances():
    # variances 1 and 4, independent: covariance diag(1, 4), eigenvalues 1 and 4, condition 4
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200_000, 2)) * np.array([1.0, 2.0])
    c = conditioning(X)
    assert c["eig_min"] == pytest.approx(1.0, rel=0.02) and c["eig_max"] == pytest.approx(4.0, rel=0.02)
    assert c["condition"] == pytest.approx(4.0, rel=0.03)


def test_conditioning_of_a_known_two_by_two_covariance():
    # x2 = x1 + e, var(x1) = 1, var(e) = 0.01: covariance [[1, 1], [1, 1.01]],
    # eigenvalues (2.01 +/- sqrt(2.01**2 - 4 * 0.01)) / 2 = 2.005, 0.004988: condition ~402
    rng = np.random.default_rng(1)
    x1 = rng.standard_normal(400_000)
    X = np.column_stack([x1, x1 + 0.1 * rng.standard_normal(len(x1))])
    c = conditioning(X)
    assert c["eig_max"] == pytest.approx(2.005, rel=0.01)
    assert c["eig_min"] == pytest.approx(0.004988, rel=0.02)
    assert c["condition"] == pytest.approx(402, rel=0.03)


def test_neighbourhood_features_see_the_right_months_and_cells():
    # value = 100 * month + 10 * row + column on a 3 x 3 grid with land at (0, 0)
    n_time = 40
    t, i, j = np.meshgrid(np.arange(n_time), np.arange(3), np.arange(3), indexing="ij")
    anom = (100.0 * t + 10 * i + j)
    ocean = np.ones((3, 3), bool)
    ocean[0, 0] = False
    anom[:, ~ocean] = np.nan
    X, y = neighbourhood_features(anom, ocean, cell=(1, 1), radius=1, months=2, lead=3, input_months=36)
    # samples r = 36 .. 40 - 3 = 37: inputs r-2, r-1; target at r - 1 + 3
    assert X.shape == (2, 2 * 8) and y.shape == (2,)
    cells = [1, 2, 10, 11, 12, 20, 21, 22]               # ocean cells in C order, (0, 0) is land
    np.testing.assert_array_equal(X[0], [3400 + c for c in cells] + [3500 + c for c in cells])
    np.testing.assert_array_equal(X[1], [3500 + c for c in cells] + [3600 + c for c in cells])
    np.testing.assert_array_equal(y, [100 * 38 + 11, 100 * 39 + 11])
    # the square is clipped at the grid's edge
    X0, _ = neighbourhood_features(anom, ocean, cell=(2, 2), radius=1, months=1, lead=1, input_months=36)
    np.testing.assert_array_equal(X0[0], [3500 + c for c in (11, 12, 21, 22)])


def test_anomalies_remove_each_calendar_months_own_mean():
    months = np.arange(48)
    field = (10.0 + 3.0 * np.cos(2 * np.pi * months / 12) + 0.5 * (months // 12))[:, None, None]
    ocean = np.array([[True, False]])
    ds = make_sst(np.broadcast_to(field, (48, 1, 2)).copy(), ocean=ocean)
    a = anomalies(ds)
    assert a.dims == ("time", "lat", "lon") and np.isnan(a.values[:, 0, 1]).all()
    # the seasonal cycle goes; each year is 0.5 above the last: -0.75, -0.25, 0.25, 0.75
    np.testing.assert_allclose(a.values[:, 0, 0], np.repeat([-0.75, -0.25, 0.25, 0.75], 12), atol=1e-5)


def test_autocorrelation_and_decorrelation_of_a_known_field():
    # AR(1) with coefficient 0.8 at every cell: lag-1 0.8, lag-12 0.8**12 = 0.07
    rng = np.random.default_rng(2)
    n_time, n_lon = 20_000, 9
    e = rng.standard_normal((n_time, 1, n_lon))
    a = np.zeros_like(e)
    for t in range(1, n_time):
        a[t] = 0.8 * a[t - 1] + e[t]
    assert autocorrelation(a, 1) == pytest.approx(0.8, abs=0.01)
    assert autocorrelation(a, 12) == pytest.approx(0.8 ** 12, abs=0.02)
    # independent columns: correlation 1 at the cell and ~0 one cell away -> crossing at ~ 1 - 1/e
    ds = make_sst(a.astype(np.float32) + 10.0)
    anom = anomalies(ds)
    km = 111.19 * np.cos(np.radians(anom["lat"].values[0]))                 # one degree of longitude
    d = decorrelation_km(anom, (0, 4))
    assert d["zonal_km"] == pytest.approx((1 - np.exp(-1)) * km, rel=0.05)
    assert d["meridional_km"] is None                                        # a single row


def test_cell_outside_the_grid_or_on_land_is_a_clear_error():
    lat, lon = np.array([10.5, 11.5]), np.array([-50.5, -49.5])
    ocean = np.array([[True, False], [True, True]])
    assert cell_index(lat, lon, ocean, 11.4, -50.4) == (1, 0)
    with pytest.raises(UserError, match=r"identify.cell \(30, -50\) lies outside the data's grid"):
        cell_index(lat, lon, ocean, 30.0, -50.0)
    with pytest.raises(UserError, match=r"is land .* move it offshore"):
        cell_index(lat, lon, ocean, 10.5, -49.5)


def test_least_squares_recovers_the_exact_coefficients_at_the_defaults():
    # The stage's own box and years: the sampling error of each coefficient shrinks as
    # 1/sqrt(years), and fewer years would fall short of correlation_min (6000 years: 0.974).
    cfg = section("identify")
    syn = section("data.synthetic")
    r = least_squares_recovery(syn, cfg.ols.box, section("data").resolution, cfg.ols.years,
                               section("window").input_months)
    assert r["n_features"] == 9 * syn.order                               # 3 x 3 ocean cells
    assert r["correlation"] >= cfg.ols.correlation_min, r
    assert r["max_error_ratio"] <= cfg.ols.error_max, r


def _box_conditioning(syn, years: int) -> dict:
    cfg = section("identify")
    model, anom = simulate_box(syn, cfg.ols.box, section("data").resolution, years)
    i, j = cell_index(anom["lat"].values, anom["lon"].values, model.ocean, cfg.cell.lat, cfg.cell.lon)
    X, _ = neighbourhood_features(anom.values, model.ocean, (i, j), cfg.radius_cells, cfg.months, 1,
                                  section("window").input_months)
    return conditioning(X)


def test_conditioning_rule_passes_at_the_defaults_and_fails_for_the_old_generator():
    # 200 years give 2,364 samples of 108 features: the sample covariance's extreme eigenvalues are
    # within ~20% of the true ones (Marchenko-Pastur, 108 / 2364 = 0.05), far from both thresholds.
    cfg = section("identify")
    syn = section("data.synthetic")
    now = _box_conditioning(syn, 200)
    assert now["condition"] <= cfg.condition_max, now
    assert now["eig_min"] >= cfg.eigen_min_share * syn.noise_std ** 2, now
    # Negative control: smooth noise only and no own weight, as the generator was before. The
    # local average of spatially smooth fields leaves no variance at the cell scale.
    old = syn.model_copy(update={
        "kernel_self": 0.0, "noise_white": 0.0, "noise_length": 3.0,
        "regions": [r.model_copy(update={"kernel_self": 0.0}) for r in syn.regions]})
    before = _box_conditioning(old, 200)
    assert before["condition"] > cfg.condition_max, before
    assert before["condition"] > 1e3 * now["condition"]


def test_fewer_samples_than_features_is_a_clear_error():
    with pytest.raises(UserError, match=r"10 samples for 20 features: their covariance is singular"):
        conditioning(np.random.default_rng(0).standard_normal((10, 20)))


def test_the_cell_must_lie_in_the_box_for_synthetic_data():
    with pytest.raises(ConfigError, match=r"identify.cell \(5.5, -40.5\) lies outside data.box"):
        params(identify={"cell": {"lat": 5.5, "lon": -40.5}})


def test_the_stage_on_a_tiny_synthetic_record(tmp_path, monkeypatch):
    # fetch then identify on TINY's 30 years (324 samples of 75 features): the verdicts are
    # written, whatever they are at this length
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(ROOT / "stages"))    # as `python stages/x.py` has it
    monkeypatch.setattr(tracking, "log_stage", lambda *args, **kwargs: None)   # no MLflow here
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(merge(raw_params(), TINY), sort_keys=False))
    for stage in ("fetch", "identify"):
        runpy.run_path(str(ROOT / "stages" / f"{stage}.py"), run_name="__main__")
    out = json.loads((tmp_path / paths.IDENTIFY_METRICS).read_text())
    assert out["synthetic_truth"] is True and out["conditioning"]["n_features"] == 75
    assert out["cell"] == {"lat": 55.5, "lon": -40.5}
    assert isinstance(out["identifiable"], bool) and isinstance(out["recovered"], bool)
    assert set(out["autocorrelation"]["lag1"]) == {"all", "base", "subpolar", "subtropical"}


def _link(gain: float, years: int = 300) -> dict:
    """link_gain on the tiny box's generator (source and target boxes 10 cells apart) at ``gain``."""
    from climemu.core.config import Box
    from climemu.truth.identifiability import link_gain, target_kernel_radius
    syn = section("data.synthetic").model_copy(update={
        "tele_gain": gain, "source_box": Box(**TINY["data"]["synthetic"]["source_box"]),
        "target_box": Box(**TINY["data"]["synthetic"]["target_box"])})
    box = Box(**TINY["data"]["box"])
    model, anom = simulate_box(syn, box, 1.0, years)
    lat, lon = anom["lat"].values, anom["lon"].values
    radius = target_kernel_radius(syn, lat, lon, model.ocean)
    assert radius == 1                                   # the subpolar kernel covers the target box
    return link_gain(anom.values, model, radius)


def test_least_squares_recovers_the_planted_link_and_finds_none_where_none_is():
    # 300 years, 20 target cells: the estimate's standard error is a few thousandths
    planted = _link(0.06)
    assert planted["planted"] == 0.06 and planted["cells"] > 10
    assert planted["relative_error"] <= 0.2, planted
    assert abs(planted["estimate"] - 0.06) <= 4 * planted["se"] + 0.002, planted
    none = _link(0.0)
    assert abs(none["estimate"]) <= 4 * none["se"] + 0.002 and np.isnan(none["relative_error"]), none


def test_a_record_too_short_gives_no_link_estimate():
    short = _link(0.06, years=6)                         # 48 months for 217 features per cell
    assert short["cells"] == 0 and np.isnan(short["estimate"])


def test_a_kernel_too_wide_for_the_record_gives_no_link_estimate():
    from climemu.core.config import Box
    from climemu.truth.identifiability import link_gain
    syn = section("data.synthetic").model_copy(update={
        "source_box": Box(**TINY["data"]["synthetic"]["source_box"]),
        "target_box": Box(**TINY["data"]["synthetic"]["target_box"])})
    model, anom = simulate_box(syn, Box(**TINY["data"]["box"]), 1.0, 30)
    wide = link_gain(anom.values, model, radius=25)       # ~600 cells x 24 months of features per cell
    assert wide["cells"] == 0 and np.isnan(wide["estimate"])
