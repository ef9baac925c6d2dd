"""core/grid.py: the ocean mask's disk cache gives the mask the landmask gives."""

import numpy as np
import pytest

from climemu.core import grid

LAT = np.array([63.5, 64.5, 65.5])            # across Iceland's south coast: land and sea
LON = np.array([-22.5, -19.5, -16.5, -13.5])


def test_cached_mask_is_the_computed_one_and_is_read_back(tmp_path, monkeypatch):
    monkeypatch.setenv(grid.CACHE_ENV, str(tmp_path))
    first = grid.ocean_mask(LAT, LON)
    np.testing.assert_array_equal(first.values, grid._compute_ocean(LAT, LON))
    assert first.values.any() and not first.values.all()
    assert len(list(tmp_path.glob("ocean-*.npy"))) == 1

    def no_landmask(lat, lon):
        raise AssertionError("the cache was not used")
    monkeypatch.setattr(grid, "_compute_ocean", no_landmask)
    np.testing.assert_array_equal(grid.ocean_mask(LAT, LON).values, first.values)
    with pytest.raises(AssertionError, match="not used"):      # another grid: another entry
        grid.ocean_mask(LAT + 1.0, LON)


def test_a_broken_cache_entry_is_recomputed_and_replaced(tmp_path, monkeypatch):
    monkeypatch.setenv(grid.CACHE_ENV, str(tmp_path))
    good = grid.ocean_mask(LAT, LON).values
    (entry,) = tmp_path.glob("ocean-*.npy")
    entry.write_bytes(b"\x93NUMPY truncated")
    np.testing.assert_array_equal(grid.ocean_mask(LAT, LON).values, good)
    np.testing.assert_array_equal(np.load(entry), good)                 # rewritten whole


def test_an_unwritable_cache_still_gives_the_mask(tmp_path, monkeypatch):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setenv(grid.CACHE_ENV, str(blocked / "cache"))
    np.testing.assert_array_equal(grid.ocean_mask(LAT, LON).values, grid._compute_ocean(LAT, LON))
