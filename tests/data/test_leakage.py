"""Rules that keep the leads honest (docs/data.md), as tests that fail on a leak.

Beside these: normalisation fitted on train only (tests/data/test_window.py), the trailing
smoothing (tests/data/test_smooth.py), the sealed test split (tests/data/test_window.py).
"""

import re

import numpy as np
import pytest

from climemu.data.window import SPLITS, WindowedData, build_windows
from tests.helpers import ROOT, make_sst, section


def test_only_evaluate_unseals_the_test_split():
    readers = [p.relative_to(ROOT).as_posix() for p in sorted((ROOT / "stages").glob("*.py"))
               + sorted((ROOT / "src").rglob("*.py"))
               if re.search(r"[(,]\s*allow_test\s*=\s*True", p.read_text())]
    assert readers == ["stages/evaluate.py"]


@pytest.mark.parametrize("lead", [1, 6, 9])
def test_every_window_stays_in_its_split(lead):
    smoothing = 12
    x = np.random.default_rng(0).normal(size=(700, 2, 2)).astype(np.float32)
    ds = make_sst(x)
    ds.attrs["smoothing_months"] = smoothing
    w = build_windows(ds, section("window", n_train=40, n_val=30, n_test=20, stride=3), lead)
    data = WindowedData(ds, w, allow_test=True)
    raw_months = {}
    for split in SPLITS:
        months = set()
        for k in range(data.n_samples(split)):
            t = int(data.target_index(split, k))
            inputs = range(t - lead - 35, t - lead + 1)
            assert len(inputs) == 36 and t - inputs[-1] == lead
            for m in (*inputs, t):
                months.update(range(m - (smoothing - 1), m + 1))   # raw months behind a smoothed one
        raw_months[split] = months
    assert not raw_months["train"] & raw_months["val"]
    assert not raw_months["train"] & raw_months["test"]
    assert not raw_months["val"] & raw_months["test"]
