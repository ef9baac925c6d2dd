"""The one reader of the known answer: from the fetched file, never from params.yaml."""

import numpy as np
import scipy.sparse as sp

from climemu.attribution.cells import Cell
from climemu.core.config import Box
from climemu.core.io import write_netcdf
from climemu.truth.exact import coefficients
from climemu.truth.loader import Truth, load_truth
from climemu.truth.synthetic import LinearModel, generate
from tests.helpers import TINY, make_sst, section


def test_a_synthetic_file_gives_its_generator_and_model(tmp_path):
    cfg = section("data", TINY["data"], years=[401, 405])
    write_netcdf(generate(cfg.synthetic, cfg.box, cfg.resolution, cfg.years), tmp_path / "raw.nc")
    truth = load_truth(tmp_path / "raw.nc")
    assert truth.generator == cfg.synthetic and truth.target_box == cfg.synthetic.target_box
    i, j = np.argwhere(truth.ocean)[0]
    expect = coefficients(LinearModel.build(cfg.synthetic, truth.lat, truth.lon, truth.ocean), (i, j), 2, 36)
    np.testing.assert_array_equal(truth.coefficients((i, j), 2, 36), expect)


def test_real_data_has_no_truth(tmp_path):
    write_netcdf(make_sst(np.zeros((24, 2, 3))), tmp_path / "raw.nc")
    assert load_truth(tmp_path / "raw.nc") is None


def _truth(target_box: Box, ocean=None) -> Truth:
    lat, lon = np.array([50.5, 51.5]), np.array([-30.5, -29.5, -28.5])
    gen = section("data.synthetic", target_box=target_box)
    return Truth(gen, lat, lon, np.ones((2, 3), bool) if ocean is None else ocean)


def test_linked_cells_are_those_whose_grid_cell_lies_in_the_target_box():
    truth = _truth(Box(lat_min=51.0, lat_max=52.0, lon_min=-30.0, lon_max=-29.0))   # holds (51.5, -29.5) only
    cells = [Cell("a", 1, 1, 51.5, -29.5, False), Cell("b", 0, 1, 50.5, -29.5, False),
             Cell("c", 1, 2, 51.5, -28.5, False)]
    assert truth.linked(cells) == ["a"]


def test_removal_response_by_hand():
    # Two cells; the target (1) gets 0.4 x the source (0) two months back, both persist with 0.5:
    # at lead 1 the target's coefficient on the source at month -2 is 0.4, so removing the source
    # changes the target by -0.4 x (the source's month -2 input) = -0.4 x 2.
    ocean = np.ones((1, 2), bool)
    model = LinearModel(ocean=ocean, phi=np.array([[0.5, 0.0]] * 2), kernel=sp.identity(2, format="csr"),
                        source=np.array([True, False]), target=np.array([False, True]), gain=0.4, lag=2)
    truth = Truth(section("data.synthetic"), np.array([50.5]), np.array([-30.5, -29.5]), ocean)
    truth.__dict__["model"] = model                       # the cached model, replaced by the hand-made one
    x = np.zeros((1, 3, 1, 2))
    x[0, :, 0, 0] = [1.0, 2.0, 3.0]                       # the source at months -3, -2, -1
    x[0, :, 0, 1] = [5.0, 5.0, 5.0]                       # the target's own inputs stay
    change = truth.removal_response(x, source=np.array([[True, False]]), target=np.array([[False, True]]), lead=1)
    np.testing.assert_allclose(change, [-0.8])
