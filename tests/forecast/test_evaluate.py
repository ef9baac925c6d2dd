import numpy as np
import pytest
from torch import nn

from climemu.data.window import WindowedData, build_windows
from climemu.forecast.evaluate import evaluate
from tests.helpers import make_sst, section


class PersistenceNet(nn.Module):
    """A 'network' that returns month -1: it must score exactly as the persistence baseline."""

    def forward(self, x):
        return x[:, -1:]


def test_a_persistence_network_scores_as_persistence():
    rng = np.random.default_rng(0)
    x = np.cumsum(rng.normal(size=(500, 4, 5)), axis=0).astype(np.float32) * 0.1 + 10
    ds = make_sst(x)
    ds.attrs["smoothing_months"] = 1
    data = WindowedData(ds, build_windows(ds, section("window", n_train=60, n_val=30, n_test=30), lead=2),
                        allow_test=True)
    corner = np.zeros((4, 5), bool)
    corner[:2, :2] = True
    metrics, table, maps = evaluate(PersistenceNet(), data, section("evaluate", lim_modes=[1, 3], figure_sample=1),
                                    seed=0, regions={"corner": corner})
    for split in ("val", "test"):
        assert set(metrics[split]) == {"model", "climatology", "persistence", "damped_persistence", "lim",
                                       "shared_filter"}
        assert metrics[split]["model"] == pytest.approx(metrics[split]["persistence"])
        assert metrics[split]["persistence"]["skill_vs_persistence"] == 0.0
        assert metrics[split]["climatology"]["acc_time"] == 0.0
    assert metrics["corner"]["test"]["model"] == pytest.approx(metrics["corner"]["test"]["persistence"])
    assert metrics["corner"]["test"]["model"]["rmse_degC"] != metrics["test"]["model"]["rmse_degC"]
    assert metrics["lim_modes"] in (1, 3)
    assert len(table) == 12 and set(table.columns) >= {"lead", "split", "predictor", "rmse_degC", "acc_time"}
    assert maps["sample_target"].dims == ("lat", "lon")
