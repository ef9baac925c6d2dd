"""The reported measures on hand-made heatmaps and curves with known answers."""

import numpy as np
import pytest
import xarray as xr

from climemu.attribution.group import GroupSums
from climemu.attribution.heatmaps import as_heatmaps
from climemu.attribution.measures import (MAP_MEASURES, block_cell, block_sum, box_share,
                                          curve_spread, efolding_month, share_before,
                                          group_monthly_contribution, locality_radius,
                                          map_measures, monthly_contribution, normalised_curve,
                                          share_of_last_month, signed_box_share, signed_curve,
                                          signed_measures, signed_radius, small_scale_share)
from climemu.core.config import Box

R = 6371.0                                        # km, the radius climemu.core.grid uses
LAT = 50.5 + np.arange(9)                         # 1-degree grid, 9 x 11 cells
LON = -30.5 + np.arange(11)
CELL = (4, 5)                                     # at 54.5 N, 25.5 W


def one_map(entries) -> np.ndarray:
    """A (36, lat, lon) heatmap with values only at the given (month label, i, j)."""
    a = np.zeros((36, LAT.size, LON.size))
    for (month, i, j), value in entries.items():
        a[36 + month, i, j] = value
    return a


# --- monthly contribution -----------------------------------------------------------------

def test_monthly_contribution_by_sign():
    a = one_map({(-1, 0, 0): 2.0, (-1, 3, 3): -1.0, (-36, 2, 2): -3.0})
    curve = monthly_contribution(as_heatmaps(a, LAT, LON))
    assert curve["positive"].sel(month=-1) == 2 and curve["negative"].sel(month=-1) == 1
    assert curve["all"].sel(month=-1) == 3
    assert curve["positive"].sel(month=-36) == 0 and curve["negative"].sel(month=-36) == 3
    assert float(curve["all"].sel(month=-2)) == 0


def test_group_curve_is_mean_of_sample_curves():
    maps = np.random.default_rng(0).normal(size=(6, 36, LAT.size, LON.size))
    group = group_monthly_contribution(GroupSums().update(maps).mean())
    per_sample = monthly_contribution(as_heatmaps(maps)).mean("sample")
    for name in ("positive", "negative", "all"):
        np.testing.assert_allclose(group[name], per_sample[name])
    np.testing.assert_allclose(group["all"], np.abs(maps).sum((2, 3)).mean(0))


def test_normalised_curve_sums_to_one_and_share_of_month_minus_one():
    curve = np.ones(36)
    curve[-1] = 2.0
    norm = normalised_curve(curve)
    assert float(norm.sum("month")) == pytest.approx(1.0)
    assert float(share_of_last_month(curve)) == pytest.approx(2 / 37)
    assert np.isnan(normalised_curve(np.zeros(36))).all()


# --- e-folding month ----------------------------------------------------------------------

def test_efolding_of_exponential_decay():
    tau = 4.5
    k = np.arange(35, -1, -1)                      # months before month -1: 35 ... 0
    curve = np.exp(-k / tau)                       # month -1 - k
    # Falls below 1/e first at k = 5 (e^(-5/4.5) < e^-1 < e^(-4/4.5)): month -6.
    assert float(efolding_month(curve)) == -6
    assert float(efolding_month(curve, interpolate=True)) == pytest.approx(-1 - tau)
    assert float(efolding_month(3 * curve)) == -6  # scale-free


def test_efolding_by_hand_with_interpolation():
    curve = np.full(36, 0.1)
    curve[-4:] = [0.2, 0.3, 0.5, 1.0]               # months -4, -3, -2, -1
    assert float(efolding_month(curve)) == -3      # 0.3 < 1/e = 0.368 first at month -3
    t = (np.log(0.5) + 1) / (np.log(0.5) - np.log(0.3))    # log-linear between -2 and -3
    assert float(efolding_month(curve, interpolate=True)) == pytest.approx(-2 - t)
    assert -3 < -2 - t < -2


def test_efolding_undefined_cases_and_extra_dims():
    flat = np.ones(36)                             # never falls to 1/e within 36 months
    dead = np.r_[np.ones(35), 0.0]                 # nothing at month -1
    both = efolding_month(np.stack([flat, dead, np.r_[np.zeros(35), 1.0]]))
    assert both.dims == ("dim_0",)
    assert np.isnan(both[0]) and np.isnan(both[1]) and both[2] == -2


# --- spread across cells ------------------------------------------------------------------

def test_curve_spread_by_hand():
    months = {"month": [-2, -1]}
    same = xr.DataArray([[1.0, 3.0], [2.0, 6.0]], dims=("cell", "month"), coords=months)
    assert float(curve_spread(same)) == 0      # same shape, different size
    differ = xr.DataArray([[0.5, 0.5], [2.5, 7.5]], dims=("cell", "month"), coords=months)
    # normalised: [0.5, 0.5] and [0.25, 0.75]; std across the two cells 0.125 in both months.
    assert float(curve_spread(differ)) == pytest.approx(0.125)


# --- locality radius ----------------------------------------------------------------------

def meridian_km(cells: int) -> float:
    return R * np.radians(cells * 1.0)             # 1-degree cells along a meridian


def test_all_mass_at_the_target_cell_gives_radius_zero():
    r = locality_radius(one_map({(-1, *CELL): -5.0, (-30, *CELL): 2.0}), LAT, LON, CELL)
    assert (r["radius_km"] == 0).all() and (r["radius_cells"] == 0).all()


def test_mass_on_a_ring_gives_the_ring_distance():
    i, j = CELL
    a = one_map({(-1, i - 2, j): 1.0, (-1, i + 2, j): -1.0, (-5, i - 2, j): 0.5})
    r = locality_radius(a, LAT, LON, CELL)
    np.testing.assert_allclose(r["radius_km"], [meridian_km(2)] * 2, rtol=1e-9)
    np.testing.assert_array_equal(r["radius_cells"], [2, 2])


def test_fractions_split_between_near_and_far_mass():
    i, j = CELL
    a = one_map({(-1, i, j): 0.6, (-2, i + 3, j): -0.4})    # 60 % at the cell, 40 % 3 north
    r = locality_radius(a, LAT, LON, CELL, fractions=(0.5, 0.6, 0.9))
    np.testing.assert_allclose(r["radius_km"], [0, 0, meridian_km(3)], rtol=1e-9)
    np.testing.assert_array_equal(r["radius_cells"], [0, 0, 3])


def test_km_and_cells_are_different_metrics_along_a_parallel():
    i, j = CELL
    r = locality_radius(one_map({(-1, i, j + 3): 1.0}), LAT, LON, CELL)
    phi, dlam = np.radians(LAT[i]), np.radians(3.0)
    along_parallel = 2 * R * np.arcsin(np.cos(phi) * np.sin(dlam / 2))   # same latitude
    np.testing.assert_allclose(r["radius_km"], along_parallel, rtol=1e-9)
    assert along_parallel < meridian_km(3) * 0.6    # 3 zonal cells at 54.5 N: ~194 km
    np.testing.assert_array_equal(r["radius_cells"], [3, 3])


def test_locality_radius_refuses_bad_input():
    with pytest.raises(ValueError, match="fractions"):
        locality_radius(one_map({}), LAT, LON, CELL, fractions=(0.0,))
    with pytest.raises(ValueError, match="outside"):
        locality_radius(one_map({}), LAT, LON, (9, 0))
    assert np.isnan(locality_radius(one_map({}), LAT, LON, CELL)["radius_km"]).all()


# --- source box and every measure of one map -----------------------------------------------

def test_box_share_in_degrees():
    a = xr.DataArray(np.array([[1.0, 3.0], [0.0, 4.0]]), dims=("lat", "lon"),
                     coords={"lat": [10.5, 11.5], "lon": [-50.5, -49.5]})
    assert box_share(a, Box(lat_min=10, lat_max=12, lon_min=-50, lon_max=-49)) == pytest.approx(7 / 8)
    assert np.isnan(box_share(0 * a, Box(lat_min=10, lat_max=12, lon_min=-50, lon_max=-49)))


def test_map_measures_of_mass_on_one_ring():
    # |attribution| 1 at month -1 and e^-2 at month -2 two cells south of the cell (52.5 N),
    # 0.5 at month -1 two cells north (56.5 N): all the mass on the ring of 2 cells, 2 degrees
    # of meridian, so both radii are that, in km and in cells.
    i, j = CELL
    a = as_heatmaps(np.abs(one_map({(-1, i - 2, j): 1.0, (-2, i - 2, j): -np.exp(-2),
                                     (-1, i + 2, j): -0.5})), LAT, LON)
    north = Box(lat_min=56.0, lat_max=57.0, lon_min=-31.0, lon_max=-19.0)   # holds 56.5 N only
    m = map_measures(a, CELL, source_box=north)
    assert list(m) == list(MAP_MEASURES)
    assert m["radius50_km"] == pytest.approx(meridian_km(2), rel=1e-9)
    assert m["radius90_km"] == pytest.approx(meridian_km(2), rel=1e-9)
    assert m["radius50_cells"] == m["radius90_cells"] == 2.0
    # Curve: 1.5 at month -1, e^-2 at month -2, 0 before.
    total = 1.5 + np.exp(-2)
    assert m["share_month_minus1"] == pytest.approx(1.5 / total)
    # Month -2 is below 1.5 / e: log-linear crossing at -1 - t, with
    # t = (log 1.5 - log(1.5 / e)) / (log 1.5 - log e^-2) = 1 / (log 1.5 + 2).
    assert m["efolding_month"] == pytest.approx(-1 - 1 / (np.log(1.5) + 2))
    assert m["source_box_share"] == pytest.approx(0.5 / total)
    assert m["share_before_minus12"] == 0.0


def test_share_before_a_year():
    # 1 on month -1, 2 on month -12, 3 on month -13, 4 on month -36: months -13 and earlier hold 7 of 10.
    curve = np.zeros(36)
    curve[[35, 24, 23, 0]] = [1.0, 2.0, 3.0, 4.0]
    assert float(share_before(curve)) == pytest.approx(0.7)
    assert float(share_before(curve, month=-1)) == pytest.approx(0.9)
    assert np.isnan(float(share_before(np.zeros(36))))


def test_map_measures_without_a_box_and_with_a_given_curve():
    a = as_heatmaps(np.abs(one_map({(-1, *CELL): 2.0})), LAT, LON)
    m = map_measures(a, CELL)
    assert "source_box_share" not in m and list(m) == list(MAP_MEASURES[:-1])
    assert m["radius50_km"] == m["radius90_cells"] == 0.0 and m["share_month_minus1"] == 1.0
    # The caller's curve (e.g. the group's positive + negative curve) replaces the map's own.
    curve = xr.DataArray(np.r_[np.zeros(34), 1.0, 1.0], dims="month", coords={"month": np.arange(-36, 0)})
    assert map_measures(a, CELL, curve=curve)["share_month_minus1"] == 0.5


# --- identifiable variants ----------------------------------------------------------------

def checkerboard(value: float) -> np.ndarray:
    """A (36, lat, lon) map: +/- value on alternating cells of rows 0-3, columns 0-9, month -1.

    It sums to zero over the grid, and over every 2 x 2 block (blocks start at row and column 0),
    and it stays off the explained cell (row 4).
    """
    a = np.zeros((36, LAT.size, LON.size))
    i, j = np.indices((4, 10))
    a[35, :4, :10] = value * (-1.0) ** (i + j)
    return a


def test_a_checkerboard_moves_the_abs_measures_but_not_the_variants():
    # Signed map: 3 at the cell on month -1, 1 at the cell on month -2. Adding a checkerboard of
    # +/-0.5 on 40 cells of month -1 adds 20 to sum |A| of month -1 and nothing to any signed sum.
    smooth = one_map({(-1, *CELL): 3.0, (-2, *CELL): 1.0})
    noisy = smooth + checkerboard(0.5)
    s, n = as_heatmaps(smooth, LAT, LON), as_heatmaps(noisy, LAT, LON)
    # |.|: month -1 holds 3 of 4 without it, 23 of 24 with it; the radius holding 50% leaves the cell
    # (the cell holds 4 of 24 < 12).
    assert map_measures(np.abs(s), CELL)["share_month_minus1"] == pytest.approx(3 / 4)
    assert map_measures(np.abs(n), CELL)["share_month_minus1"] == pytest.approx(23 / 24)
    assert map_measures(np.abs(s), CELL)["radius50_km"] == 0
    assert map_measures(np.abs(n), CELL)["radius50_km"] > meridian_km(1) - 1e-6
    # signed curve: |3| on month -1 and |1| on month -2, with and without
    np.testing.assert_allclose(signed_curve(n), signed_curve(s))
    assert float(share_of_last_month(signed_curve(n))) == pytest.approx(3 / 4)
    # signed radius: the cell alone holds the signed total 4 (the checkerboard sums to 0): 0 km
    for fraction in (0.5, 0.9):
        assert float(signed_radius(n, LAT, LON, CELL, fraction)) == 0
        assert float(signed_radius(s, LAT, LON, CELL, fraction)) == 0
    # blocks of 2 x 2: the checkerboard sums to exactly 0 in each; every block measure is unchanged
    np.testing.assert_array_equal(block_sum(n, 2), block_sum(s, 2))
    bc = block_cell(CELL, 2, (LAT.size, LON.size))
    assert bc == (2, 2)
    block = map_measures(np.abs(block_sum(n, 2)), bc)
    assert block == map_measures(np.abs(block_sum(s, 2)), bc)
    assert block["share_month_minus1"] == pytest.approx(3 / 4) and block["radius50_km"] == 0


def test_signed_radius_by_hand():
    # Month-summed signed map: +2 at the cell, -1 one cell north, +3 two cells north. Rings:
    # cumulative 2, 1, 4 of the total 4.
    i, j = CELL
    a = one_map({(-1, i, j): 2.0, (-3, i + 1, j): -1.0, (-1, i + 2, j): 1.0, (-2, i + 2, j): 2.0})
    assert float(signed_radius(a, LAT, LON, CELL, 0.5)) == 0            # 2 >= 0.5 * 4 at the cell
    assert float(signed_radius(a, LAT, LON, CELL, 0.4)) == 0
    assert float(signed_radius(a, LAT, LON, CELL, 0.9)) == pytest.approx(meridian_km(2), rel=1e-9)
    # The direction of the total: the negated map has the same radii.
    assert float(signed_radius(-a, LAT, LON, CELL, 0.9)) == pytest.approx(meridian_km(2), rel=1e-9)
    # |.| counts the -1 as mass: 2 + 1 of 6 reach 50% one ring out.
    assert float(locality_radius(a, LAT, LON, CELL)["radius_km"][0]) == pytest.approx(meridian_km(1), rel=1e-9)
    # Cells at the same distance are summed before the crossing is looked for: +1 and -1 one cell
    # east and west cancel, so 0.5 of the total (1, at the cell) is reached at the cell.
    ring = one_map({(-1, i, j): 1.0, (-1, i, j + 1): -1.0, (-1, i, j - 1): 1.0})
    assert float(signed_radius(ring, LAT, LON, CELL, 0.5)) == 0
    # A total of zero has no radius; per sample, other dims kept.
    both = signed_radius(np.stack([a, one_map({(-1, i, j): 1.0, (-1, i + 1, j): -1.0})]), LAT, LON, CELL, 0.9)
    assert both.dims == ("sample",) and np.isnan(both[1]) and float(both[0]) == pytest.approx(meridian_km(2))
    with pytest.raises(ValueError, match="fraction"):
        signed_radius(a, LAT, LON, CELL, 0.0)


def test_signed_radius_equals_the_abs_radius_on_a_positive_map():
    a = np.abs(np.random.default_rng(3).normal(size=(36, LAT.size, LON.size)))
    r = locality_radius(a, LAT, LON, CELL)["radius_km"].values
    np.testing.assert_allclose([float(signed_radius(a, LAT, LON, CELL, f)) for f in (0.5, 0.9)], r, rtol=1e-12)


def test_block_sum_by_hand():
    values = np.arange(20.0).reshape(4, 5)
    a = xr.DataArray(values, dims=("lat", "lon"),
                     coords={"lat": 10.5 + np.arange(4), "lon": -50.5 + np.arange(5)})
    b = block_sum(a, 2)                     # the fifth column is trimmed
    np.testing.assert_array_equal(b, [[0 + 1 + 5 + 6, 2 + 3 + 7 + 8], [10 + 11 + 15 + 16, 12 + 13 + 17 + 18]])
    np.testing.assert_array_equal(b["lat"], [11.0, 13.0])     # the blocks' centres
    np.testing.assert_array_equal(b["lon"], [-50.0, -48.0])
    # other dims kept; a block of 1 is the map itself
    stacked = block_sum(np.stack([values, -values])[:, None], 2)     # (sample, month, lat, lon)
    assert stacked.dims == ("sample", "month", "lat", "lon") and float(stacked[1, 0, 1, 1]) == -60
    np.testing.assert_array_equal(block_sum(a, 1), a)
    # a cell in the trimmed edge belongs to the nearest block
    assert block_cell((3, 4), 2, (4, 5)) == (1, 1) and block_cell((1, 2), 2, (4, 5)) == (0, 1)
    with pytest.raises(ValueError, match="does not fit"):
        block_sum(a, 5)


def test_small_scale_share_of_a_constant_and_a_checkerboard():
    constant = np.full((2, LAT.size, LON.size), 3.0)
    assert float(small_scale_share(constant, 1.0)) == pytest.approx(0, abs=1e-12)
    i, j = np.indices((LAT.size, LON.size))
    board = (-1.0) ** (i + j)
    # A Gaussian of one cell keeps about 2 exp(-pi^2 / 2) = 1.4% of a +/-1 pattern per axis:
    # almost all the energy is small-scale (the reflecting edges keep a little more).
    assert 0.95 < float(small_scale_share(board, 1.0)) <= 1
    both = small_scale_share(np.stack([constant, np.stack([board, board]), 0 * constant]), 1.0)
    assert both.dims == ("sample",) and both[0] == pytest.approx(0, abs=1e-12) and np.isnan(both[2])


def test_signed_curve_and_box_share_per_sample():
    i, j = CELL
    a = one_map({(-1, i, j): 1.0, (-1, 0, 0): -3.0, (-2, 8, 10): 2.0})
    maps = as_heatmaps(np.stack([a, -a]), LAT, LON)
    curve = signed_curve(maps)
    assert curve.dims == ("sample", "month")
    # |1 - 3| = 2 on month -1 and 2 on month -2, for both signs: the mean over samples does not cancel.
    np.testing.assert_array_equal(curve.sel(month=-1), [2, 2])
    np.testing.assert_array_equal(curve.sel(month=-2), [2, 2])
    assert float(monthly_contribution(maps)["all"].sel(month=-1)[0]) == 4
    # box around (0, 0) at 50.5 N, 30.5 W: |-3| inside, |1 + 2| outside -> 1/2; the |.| share is 3/6.
    box = Box(lat_min=50.0, lat_max=51.0, lon_min=-31.0, lon_max=-30.0)
    np.testing.assert_allclose(signed_box_share(maps, box), [0.5, 0.5])
    # The group's signed measures from accumulated pieces: the median of the radii, NaN left out.
    m = signed_measures(curve.mean("sample"), [1.0, 3.0, np.nan], [5.0, np.nan, 7.0], (1.0, 3.0))
    assert m["radius50_km"] == 2 and m["radius90_km"] == 6 and m["source_box_share"] == 0.25
    assert m["share_month_minus1"] == 0.5
