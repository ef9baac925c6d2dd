"""Opening and checking CMIP6-layout files: each bad input stops with a message that says what
was found and what was expected."""

import json

import numpy as np
import pytest

from climemu.data.cmip import CmipError, FileSpan, open_files, sha256
from tests.helpers_cmip6 import (Grid, cmip6_dataset, file_name, linear_field, write_file,
                                 write_files)

GRID = Grid.make(n_lat=12, n_lon=15)


def test_file_name_spans():
    span = FileSpan.parse("tos_Omon_CESM2_piControl_r1i1p1f1_gn_110001-120012.nc")
    assert (span.first, span.last) == (1100 * 12, 1200 * 12 + 11)
    assert span.overlaps((1200, 1300)) and not span.overlaps((1201, 1300))
    with pytest.raises(CmipError, match="does not follow the CMIP6 pattern"):
        FileSpan.parse("tos_CESM2.nc")


def test_two_files_in_sequence_open_lazily_for_the_years(tmp_path):
    paths = write_files(tmp_path, GRID, 401, 2, 3)          # 0401-0402, 0403-0404, 0405-0406
    tos, prov = open_files(paths, (402, 404))
    assert tos.sizes["time"] == 36 and tos.chunks is not None      # dask-backed
    t = tos["time"].values
    assert (t[0].year, t[0].month, t[-1].year, t[-1].month) == (402, 1, 404, 12)
    # 1e20 fill reads as NaN; values unchanged (degC)
    expected = linear_field(GRID.lat, GRID.lon, np.arange(12, 48)).astype(np.float32)
    np.testing.assert_array_equal(tos.values, expected)
    assert prov["dataset_id"] == "CMIP6.CMIP.NCAR.CESM2.piControl.r1i1p1f1.Omon.tos.gn"
    assert json.loads(prov["files"]) == [p.name for p in paths[:2]]   # 0405-0406 is not opened
    assert json.loads(prov["checksums_sha256"]) == {p.name: sha256(p) for p in paths[:2]}


def test_files_outside_the_years_are_not_opened(tmp_path):
    paths = write_files(tmp_path, GRID, 401, 1, 3)
    paths[0].write_bytes(b"not netCDF")                       # 0401: outside the years asked
    tos, prov = open_files(paths, (402, 403))
    assert tos.sizes["time"] == 24 and len(json.loads(prov["files"])) == 2


def test_kelvin_is_converted_and_said(tmp_path, capsys):
    paths = write_files(tmp_path, GRID, 401, 1, 1, units="K")
    tos, _ = open_files(paths, (401, 401))
    assert "in kelvin ('K'); converted to degC" in capsys.readouterr().out
    assert tos.attrs["units"] == "degC"
    np.testing.assert_allclose(tos.values, linear_field(GRID.lat, GRID.lon, np.arange(12)), atol=1e-4)


@pytest.mark.parametrize("kwargs, message", [
    ({"units": "degF"}, r"tos units 'degF'; expected degC \(or kelvin, converted\)"),
    ({"calendar": "360_day"}, r"calendar '360_day'; expected one of \('noleap', '365_day'\)"),
    ({"variable": "thetao"}, r"variable 'tos' not found \(found \['lat_bnds', 'lon_bnds', 'thetao', 'time_bnds'\]\)"),
])
def test_bad_units_calendar_variable(tmp_path, kwargs, message):
    paths = write_files(tmp_path, GRID, 401, 1, 1, **kwargs)
    with pytest.raises(CmipError, match=message):
        open_files(paths, (401, 401))


def test_missing_month_inside_a_file(tmp_path):
    ds = cmip6_dataset(GRID, 401, 24)
    ds = ds.isel(time=[i for i in range(24) if i != 14])     # 0402-03 missing
    path = write_file(ds, tmp_path / file_name(401, 24))
    with pytest.raises(CmipError, match="a gap after 0402-02 \\(next is 0402-04\\)"):
        open_files([path], (401, 402))


def test_gap_between_files(tmp_path):
    a = write_file(cmip6_dataset(GRID, 401, 12), tmp_path / file_name(401, 12))
    b = write_file(cmip6_dataset(GRID, 401, 12, start_month=24), tmp_path / file_name(401, 12, 24))
    with pytest.raises(CmipError, match="gap between .*040101-040112.nc \\(ends 0401-12\\) and "
                                        ".*040301-040312.nc \\(starts 0403-01\\): months 0402-01 to 0402-12 are missing"):
        open_files([b, a], (401, 403))


def test_overlapping_files(tmp_path):
    a = write_file(cmip6_dataset(GRID, 401, 24), tmp_path / file_name(401, 24))
    b = write_file(cmip6_dataset(GRID, 401, 24, start_month=12), tmp_path / file_name(401, 24, 12))
    with pytest.raises(CmipError, match="overlap: .*040201-040312.nc starts at 0402-01, "
                                        ".*040101-040212.nc ends at 0402-12"):
        open_files([a, b], (401, 403))


def test_years_not_covered(tmp_path):
    paths = write_files(tmp_path, GRID, 401, 1, 2)
    with pytest.raises(CmipError, match="cover 0401-01 to 0402-12; data.years asks for 0401-01 to 0405-12"):
        open_files(paths, (401, 405))
    with pytest.raises(CmipError, match="files cover 0401-01 to 0402-12 \\(by their names\\)"):
        open_files(paths, (500, 600))


def test_truncated_file_is_refused(tmp_path):
    path = write_files(tmp_path, GRID, 401, 1, 1)[0]
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CmipError, match="cannot be read as netCDF/zarr \\(truncated or damaged\\?\\)"):
        open_files([path], (401, 401))
