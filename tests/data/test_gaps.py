"""Missing ocean values in any source are refused with a message (docs/reliability.md): fetch names
the file, the months and the ocean cells; smooth, window and the windowed data refuse them too."""

import re

import numpy as np
import pytest
import xarray as xr

from climemu.config import Box
from climemu.core.errors import UserError
from climemu.core.io import write_netcdf
from climemu.data.gaps import OceanGapError, check_fetched, gap_counts
from climemu.data.smooth import smooth
from climemu.data.sources import fetch
from climemu.data.window import WindowedData, build_windows
from climemu.truth import synthetic
from tests.helpers import make_sst, section
from tests.helpers_cmip6 import Grid, cmip6_dataset, file_name, write_file

GRID = Grid.make(n_lat=40, n_lon=50, lat0=35.0, lon0=330.0)
BOX = Box(lat_min=45, lat_max=60, lon_min=-20, lon_max=15)
LAND = np.zeros(GRID.lat.shape, bool)
LAND[20:24, 30:34] = True


def cmip6_files(folder, holes: dict[int, tuple[slice, slice]]) -> list:
    """Files 0401-0402 and 0403-0404; ``holes``: run month -> source cells set to NaN (ocean)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for year in (401, 403):
        ds = cmip6_dataset(GRID, year, 24, LAND)
        for month, cells in holes.items():
            k = month - (year - 401) * 12
            if 0 <= k < 24:
                ds["tos"].values[(k,) + cells] = np.nan
        paths.append(write_file(ds, folder / file_name(year, 24)))
    return paths


def local(folder, years=(402, 404)) -> xr.Dataset:
    cfg = section("data", dict(source="local", box=BOX, years=list(years), paths=str(folder / "tos_*.nc")))
    return fetch(cfg)


def test_a_month_of_missing_ocean_in_a_cmip6_file_is_named(tmp_path):
    # 0403-03 is month 26 of the run; a 3 x 3 patch of open ocean (about 50 N, 350 E) goes missing
    paths = cmip6_files(tmp_path / "in", {26: (slice(15, 18), slice(15, 18))})
    ds = local(tmp_path / "in")
    values = ds["tos"].values
    ocean = ds["ocean"].values.astype(bool)
    expected = int(np.isnan(values[14][ocean]).sum())          # 0403-03 is month 14 of 0402-0404
    assert expected > 0 and int(np.isnan(values[:, ocean]).sum()) == expected
    with pytest.raises(OceanGapError) as err:
        check_fetched(ds)
    message = str(err.value)
    assert message.startswith("data.source=local: 1 month without a value at some ocean cells")
    assert f"0403-03 ({expected} of {int(ocean.sum())} ocean cells) in {paths[1].name}" in message
    assert paths[0].name not in message and "data.years" in message
    assert isinstance(err.value, UserError)


def test_the_lazy_source_is_checked_on_the_written_file_before_it_replaces_raw(tmp_path):
    cmip6_files(tmp_path / "in", {26: (slice(15, 18), slice(15, 18))})
    raw = tmp_path / "raw.nc"
    raw.write_text("the previous output")
    with pytest.raises(OceanGapError, match="0403-03"):
        write_netcdf(local(tmp_path / "in"), raw, verify=check_fetched)
    assert raw.read_text() == "the previous output"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".raw")] == []


def test_a_missing_first_month_is_found_although_the_mask_comes_from_it(tmp_path):
    # The CMIP6 sources take the land mask from the first month: its hole becomes "land" that
    # holds values in every later month. Months from 0402-01 (run month 12) on.
    cmip6_files(tmp_path / "in", {12: (slice(15, 18), slice(15, 18))})
    with pytest.raises(OceanGapError, match=r"1 month without .*: 0402-01 \([1-9]\d* of \d+ ocean cells\) "
                                            r"in tos_Omon_CESM2_piControl_r1i1p1f1_gn_040101-040212\.nc"):
        check_fetched(local(tmp_path / "in"))


def test_complete_files_and_the_synthetic_source_pass(tmp_path):
    cmip6_files(tmp_path / "in", {})
    check_fetched(local(tmp_path / "in"))
    cfg = section("data", years=[401, 402], synthetic={"spinup_months": 12})
    syn = synthetic.generate(cfg.synthetic, cfg.box, cfg.resolution, cfg.years)
    assert gap_counts(syn["tos"], syn["ocean"]).tolist() == [0] * 24
    check_fetched(syn)


def test_a_synthetic_source_with_missing_months_is_refused_without_a_file_name():
    cfg = section("data", years=[401, 402], synthetic={"spinup_months": 12})
    syn = synthetic.generate(cfg.synthetic, cfg.box, cfg.resolution, cfg.years)
    ocean = syn["ocean"].values.astype(bool)
    syn["tos"].values[[4, 5]] = np.where(ocean, np.nan, syn["tos"].values[[4, 5]])
    with pytest.raises(OceanGapError) as err:
        check_fetched(syn)
    n = int(ocean.sum())
    assert str(err.value).startswith(f"data.source=synthetic: 2 months without a value at some ocean "
                                     f"cells: 0401-05 ({n} of {n} ocean cells), 0401-06 ({n} of {n} ocean "
                                     "cells). Expected")


def _with_gap(n_time=700, month=300) -> xr.Dataset:
    x = np.random.default_rng(0).normal(size=(n_time, 2, 3)).astype(np.float32) + 10
    x[:, 1, 2] = np.nan                                      # land
    ocean = np.ones((2, 3), bool)
    ocean[1, 2] = False
    x[month, 0, 1] = np.nan                                  # a hole over the ocean
    return make_sst(x, ocean=ocean)


def test_smooth_refuses_ocean_gaps_instead_of_spreading_them():
    ds = _with_gap()
    with pytest.raises(OceanGapError, match=r"1 month without .*: 0426-01 \(1 of 5 ocean cells\).*"
                                            r"`dvc repro fetch`"):
        smooth(ds, 12)
    ds["tos"].values[300, 0, 1] = 10.0
    assert not np.isnan(smooth(ds, 12)["tos"].values[:, ds["ocean"].values.astype(bool)]).any()


def test_window_and_training_data_refuse_ocean_gaps():
    cfg = section("window", n_train=40, n_val=30, n_test=20, stride=3)
    ds = _with_gap()
    with pytest.raises(OceanGapError, match=r"0426-01 \(1 of 5 ocean cells\)"):
        build_windows(ds, cfg, 1)
    ds["tos"].values[300, 0, 1] = 10.0
    windows = build_windows(ds, cfg, 1)
    WindowedData(ds, windows)                                 # complete: accepted
    ds["tos"].values[300, 0, 1] = np.nan                      # a gap after windowing
    with pytest.raises(OceanGapError, match=re.escape("0426-01 (1 of 5 ocean cells)")):
        WindowedData(ds, windows)
