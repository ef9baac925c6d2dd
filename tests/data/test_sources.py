"""The three CMIP6 sources end to end: same box, grid and CF layout as the synthetic source."""

import json

import numpy as np
import pytest
import xarray as xr

from climemu.config import Box, DataConfig, PangeoConfig
from climemu.truth import synthetic
from climemu.core.calendar import monthly_time
from climemu.data.cmip import CmipError
from climemu.data.pangeo import PangeoError, public_url
from climemu.data.regrid import CoverageError
from climemu.data.sources import fetch
from climemu.core.io import write_netcdf
from tests.helpers_cmip6 import (DATASET, FakeEsgf, Grid, catalog_row, cmip6_dataset, linear_field,
                                 write_catalog, write_files)
from tests.helpers import section

# Source grid 35-75 N, 330 E..29 E (wrapping through 0 E); the box crosses 0 E.
GRID = Grid.make(n_lat=40, n_lon=50, lat0=35.0, lon0=330.0)
BOX = Box(lat_min=45, lat_max=60, lon_min=-20, lon_max=15)
LAND = np.zeros(GRID.lat.shape, bool)
LAND[20:24, 30:34] = True            # about 55-58 N, 6-10 E


def cfg(**over) -> DataConfig:
    return section("data", dict(source="local", box=BOX, years=[402, 404]), **over)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cmip6")
    return write_files(folder, GRID, 401, 2, 2, LAND)              # 0401-0402, 0403-0404


@pytest.fixture(scope="module")
def local(files):
    return fetch(cfg(paths=str(files[0].parent / "tos_Omon_*.nc"))).compute()


def test_local_values_mask_and_layout(local, files):
    ds = local
    assert ds.sizes == {"time": 36, "lat": 15, "lon": 35, "bnds": 2}
    assert ds["tos"].dtype == np.float32 and ds["tos"].attrs["units"] == "degC"
    time, bnds = monthly_time(402, 36)
    assert (ds["time"].values == time).all() and (ds["time_bnds"].values == bnds).all()
    ocean = ds["ocean"].values.astype(bool)
    assert ds["ocean"].dtype == np.int8 and 0 < (~ocean).sum() < 40
    # ocean cells: the linear field at the target centres (months 12..47 of the run)
    la, lo = np.meshgrid(ds["lat"].values, ds["lon"].values, indexing="ij")
    expected = linear_field(la, lo, np.arange(12, 48))
    np.testing.assert_allclose(ds["tos"].values[:, ocean], expected[:, ocean], atol=1e-4)
    assert np.isnan(ds["tos"].values[:, ~ocean]).all()
    # the land patch (55-58 N, 6-10 E) is land in the target too; the open ocean is not
    assert not ds["ocean"].sel(lat=56.5, lon=8.5) and ds["ocean"].sel(lat=50.5, lon=-10.5)
    assert ds.attrs["dataset_id"] == DATASET and ds.attrs["fetch_source"] == "local"
    assert json.loads(ds.attrs["files"]) == [f.name for f in files]
    assert set(json.loads(ds.attrs["checksums_sha256"])) == {f.name for f in files}
    assert synthetic.generator_config(ds) is None     # downstream stages see real data


def test_same_file_layout_as_the_synthetic_source(local, tmp_path):
    cfg = section("data", years=[401, 402], synthetic={"spinup_months": 12})
    syn = synthetic.generate(cfg.synthetic, cfg.box, cfg.resolution, cfg.years)
    write_netcdf(local, tmp_path / "real.nc")
    write_netcdf(syn, tmp_path / "syn.nc")
    with xr.open_dataset(tmp_path / "real.nc", decode_times=False) as a, \
            xr.open_dataset(tmp_path / "syn.nc", decode_times=False) as b:
        assert set(a.variables) == set(b.variables)
        for v in a.variables:
            assert (a[v].dims, a[v].dtype) == (b[v].dims, b[v].dtype), v
        for v in ("time", "time_bnds", "tos", "lat", "lon"):
            assert a[v].attrs == b[v].attrs, v
        assert a["time"].attrs["calendar"] == "noleap"


def test_box_outside_the_data_and_box_on_land(files):
    glob = str(files[0].parent / "tos_Omon_*.nc")
    with pytest.raises(CoverageError, match="lies outside the data's coverage"):
        fetch(cfg(paths=glob, box=Box(lat_min=0, lat_max=20, lon_min=-20, lon_max=15)))
    land_files = write_files(files[0].parent / "land", GRID, 401, 2, 2, np.ones_like(LAND))
    with pytest.raises(CmipError, match="holds no ocean cell"):
        fetch(cfg(paths=str(land_files[0].parent / "*.nc")))


def test_a_glob_that_matches_nothing(tmp_path):
    with pytest.raises(CmipError, match="data.paths: no file matches .*nothing"):
        fetch(cfg(paths=str(tmp_path / "nothing*.nc")))


def test_esgf_source_gives_what_local_gives(files, local, tmp_path):
    with FakeEsgf() as fake:
        for f in files:
            fake.publish(f)
        esgf_cfg = section("data.esgf", index_nodes=[fake.url("/search")], download_dir=str(tmp_path / "dl"),
                           timeout_s=5)
        ds = fetch(cfg(source="esgf", esgf=esgf_cfg)).compute()
    xr.testing.assert_identical(ds.drop_attrs(), local.drop_attrs())
    assert ds.attrs["dataset_id"] == f"{DATASET}.v20190320" and ds.attrs["fetch_source"] == "esgf"
    assert json.loads(ds.attrs["checksums_sha256"]) == json.loads(local.attrs["checksums_sha256"])
    assert sorted(p.name for p in (tmp_path / "dl").iterdir()) == [f.name for f in files]


def test_pangeo_source_searches_the_catalog_and_reads_zarr(local, tmp_path):
    whole = cmip6_dataset(GRID, 401, 48, LAND)
    store = tmp_path / "tos.zarr"
    whole.to_zarr(store, zarr_format=2, consolidated=True,
                  encoding={"tos": {"_FillValue": np.float32(1e20), "dtype": "float32"}})
    catalog = write_catalog(tmp_path, [catalog_row(str(tmp_path / "other.zarr"), variable_id="thetao"),
                                       catalog_row(str(store))])
    ds = fetch(cfg(source="pangeo", pangeo=PangeoConfig(catalog=str(catalog)))).compute()
    xr.testing.assert_identical(ds.drop_attrs(), local.drop_attrs())
    assert ds.attrs["dataset_id"] == f"{DATASET}.v20190320" and json.loads(ds.attrs["files"]) == [str(store)]


def test_pangeo_says_when_the_dataset_is_not_in_the_catalog(tmp_path):
    catalog = write_catalog(tmp_path, [catalog_row("gs://cmip6/x", member_id="r2i1p1f1")])
    with pytest.raises(PangeoError, match="not in the Pangeo catalog .*member_id=r1i1p1f1 found "
                                          "nothing among 1 entries; use data.source=esgf"):
        fetch(cfg(source="pangeo", pangeo=PangeoConfig(catalog=str(catalog))))
    with pytest.raises(PangeoError, match="cannot read the intake-esm catalog"):
        fetch(cfg(source="pangeo", pangeo=PangeoConfig(catalog=str(tmp_path / "missing.json"))))


def test_public_url():
    assert public_url("gs://cmip6/CMIP6/CMIP/x/") == "https://storage.googleapis.com/cmip6/CMIP6/CMIP/x/"
    assert public_url("/data/x.zarr") == "/data/x.zarr"
