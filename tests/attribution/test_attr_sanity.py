"""Cascading randomisation (Adebayo et al. 2018) on a tiny network of named blocks."""

import numpy as np
import pytest
import torch
from torch import nn

from climemu.attribution.sanity import (blocks_output_first, cascade, rank_agreement, sanity_check,
                                        sanity_measures)
from climemu.attribution.cells import cell_index
from climemu.attribution.cells import resolve_cells
from climemu.config import CellSpec
from climemu.data.window import WindowedData, build_windows
from tests.helpers import make_sst, section


class Tiny(nn.Module):
    """Three blocks in forward order, as the emulator lists them in ``BLOCKS``."""

    BLOCKS = ("first", "middle", "last")

    def __init__(self):
        super().__init__()
        self.first = nn.Sequential(nn.Conv2d(36, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())
        self.middle = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.ReLU())
        self.last = nn.Conv2d(4, 1, 3, padding=1)

    def forward(self, x):
        for name in self.BLOCKS:
            x = getattr(self, name)(x)
        return x


@pytest.fixture
def trained():
    torch.manual_seed(1)
    net = Tiny()
    with torch.no_grad():       # "trained": weights and statistics no default initialisation gives
        for p in net.parameters():
            p.add_(1.0)
        net.first[1].running_mean.fill_(0.5)
    return net.eval()


def _same(a: nn.Module, b: nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_cascade_reinitialises_from_the_output_toward_the_input(trained):
    original = {k: v.clone() for k, v in trained.state_dict().items()}
    steps = list(cascade(trained, seed=0))
    assert [name for name, _ in steps] == ["last", "middle", "first"] == blocks_output_first(trained)
    for k, (_, net) in enumerate(steps):
        changed = {"last", "middle", "first"}.intersection(blocks_output_first(trained)[:k + 1])
        for block in Tiny.BLOCKS:
            same = _same(getattr(net, block), getattr(trained, block))
            assert same == (block not in changed), (k, block)
    # Re-initialised BatchNorm is back to its defaults, statistics included.
    assert torch.equal(steps[-1][1].first[1].running_mean, torch.zeros(4))
    # The trained network is untouched, and the same seed gives the same draws.
    assert all(torch.equal(v, original[k]) for k, v in trained.state_dict().items())
    again = list(cascade(trained, seed=0))
    assert all(_same(a, b) for (_, a), (_, b) in zip(steps, again))
    assert not _same(list(cascade(trained, seed=1))[0][1].last, steps[0][1].last)


def test_cascade_needs_named_blocks():
    with pytest.raises(ValueError, match="BLOCKS"):
        next(cascade(nn.Conv2d(36, 1, 3), seed=0))


def test_rank_agreement_by_hand():
    ocean = np.ones((1, 4), bool)
    before = np.array([1.0, -2.0, 3.0, 0.0]).reshape(1, 1, 1, 4)
    # Input 4 is zero in both maps (beyond the receptive field): it is not scored.
    np.testing.assert_allclose(rank_agreement(before, before, ocean), [[1.0], [1.0]])
    flipped = -before
    signed, absolute = rank_agreement(before, flipped, ocean)
    assert signed[0] == pytest.approx(-1.0) and absolute[0] == pytest.approx(1.0)
    other = np.array([3.0, 1.0, -2.0, 0.0]).reshape(1, 1, 1, 4)
    # Signed ranks (2, 1, 3) vs (3, 2, 1): r = -0.5; |.| ranks (1, 2, 3) vs (3, 1, 2): r = -0.5.
    np.testing.assert_allclose(rank_agreement(before, other, ocean), [[-0.5], [-0.5]])


def test_sanity_check_on_the_tiny_network(trained):
    rng = np.random.default_rng(0)
    ds = make_sst(rng.normal(15, 1, size=(200, 8, 10)))
    ds.attrs["smoothing_months"] = 1
    data = WindowedData(ds, build_windows(ds, section("window", n_train=4, n_val=2, n_test=2), lead=1))
    cell = resolve_cells([CellSpec(name="a", lat=13.5, lon=-46.5)], data.lat, data.lon, data.ocean)[0]
    out = sanity_check(trained, data, ["deeplift", "guided_backprop"], cell, n_samples=3, batch_size=2,
                       n_steps=4, seed=0, channels_last=False)
    assert out["spearman"].shape == (2, 3, 3) and list(out["step"].values) == ["last", "middle", "first"]
    assert np.isfinite(out["spearman_abs"]).all()
    # the cell as one cell of score's or explain's results: scalar coords, its index (3, 4)
    assert cell_index(out) == (cell.i, cell.j) == (3, 4) and float(out["cell_lat"]) == 13.5
    m = sanity_measures(out)
    assert m["steps"] == ["last", "middle", "first"] and m["cell"] == "a"
    assert set(m["deeplift"]) == {"spearman", "spearman_abs", "trained", "randomised"}
    assert m["deeplift"]["trained"]["radius50_km"] >= 0
