import numpy as np
import pytest
import torch

from climemu.core import devices
from climemu.data.window import WindowedData, build_windows
from climemu.training.trainer import anomaly_correlation, learning_rate, masked_mse, train
from tests.helpers import make_sst, section


def test_masked_mse_ignores_land_by_hand():
    pred = torch.zeros(2, 1, 2, 2)
    target = torch.tensor([[[[1.0, 2.0], [100.0, 3.0]]], [[[0.0, 1.0], [-50.0, 1.0]]]])
    ocean = torch.tensor([[True, True], [False, True]])
    # ocean squares: (1 + 4 + 9) + (0 + 1 + 1) = 16 over 2 samples x 3 cells
    assert masked_mse(pred, target, ocean).item() == pytest.approx(16 / 6)


def test_anomaly_correlation_perfect_and_inverted():
    y = torch.randn(3, 1, 4, 5)
    ocean = torch.ones(4, 5, dtype=torch.bool)
    ocean[0, 0] = False
    np.testing.assert_allclose(anomaly_correlation(2 * y + 1, y, ocean).numpy(), 1.0, rtol=1e-5)
    np.testing.assert_allclose(anomaly_correlation(-y, y, ocean).numpy(), -1.0, rtol=1e-5)


def _tiny_data():
    rng = np.random.default_rng(0)
    x = np.cumsum(rng.normal(size=(300, 12, 16)), axis=0).astype(np.float32) * 0.1 + 15
    ds = make_sst(x)
    ds.attrs["smoothing_months"] = 1
    w = build_windows(ds, section("window", n_train=24, n_val=8, n_test=8), lead=1)
    return WindowedData(ds, w)


def _fit(data, seed=3):
    cfg = section("train", epochs=2, batch_size=8, channels_last=True)
    return train(section("model"), data, cfg, seed)


def test_training_is_seeded_and_picks_best_epoch_on_validation():
    data = _tiny_data()
    a, b = _fit(data), _fit(data)
    for (k, va), vb in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        assert torch.equal(va, vb), k
    assert a.history.val_loss == b.history.val_loss
    assert a.best_epoch == 1 + int(np.argmin(a.history.val_loss))
    assert a.val_rmse == pytest.approx(np.sqrt(min(a.history.val_loss)) * data.scale)
    c = _fit(data, seed=4)
    assert c.history.train_loss != a.history.train_loss


def test_learning_rate_schedules_by_hand():
    const, cos = section("train", lr=0.01, schedule="constant"), section("train", lr=0.01, schedule="cosine")
    assert [learning_rate(const, p) for p in (0, 0.5, 1)] == [0.01, 0.01, 0.01]
    # 0.01 * (1 + cos(pi p)) / 2: 0.01 at the start, 0.005 half-way, 0.0025 at p = 2/3, 0 at the end
    np.testing.assert_allclose([learning_rate(cos, p) for p in (0, 0.5, 2 / 3, 1)],
                               [0.01, 0.005, 0.0025, 0.0], atol=1e-15)


def test_cosine_schedule_sets_the_rate_of_every_step(monkeypatch):
    data = _tiny_data()                                        # 24 samples: 3 batches of 8 per epoch
    seen = []
    real_step = torch.optim.Adam.step

    def record(self, *a, **k):
        seen.append(self.param_groups[0]["lr"])
        return real_step(self, *a, **k)

    monkeypatch.setattr(torch.optim.Adam, "step", record)
    cfg = section("train", epochs=2, batch_size=8, channels_last=True, lr=0.01, schedule="cosine")
    train(section("model"), data, cfg, seed=3)
    # 6 steps at progress 0, 1/6, ..., 5/6 of the whole run
    np.testing.assert_allclose(seen, [0.005 * (1 + np.cos(np.pi * k / 6)) for k in range(6)], rtol=1e-12)


def test_cosine_schedule_matches_torchs_cosine_annealing():
    # The project's stateless rate (exact on resume) against torch's CosineAnnealingLR over 10 steps.
    cfg = section("train", lr=0.01, schedule="cosine")
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=cfg.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10, eta_min=0.0)
    torchs = []
    for _ in range(10):
        torchs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    np.testing.assert_allclose([learning_rate(cfg, k / 10) for k in range(10)], torchs, rtol=1e-12, atol=1e-15)


def test_without_bf16_auto_trains_exactly_as_fp32(monkeypatch):
    monkeypatch.setattr(devices, "cpu_supports_bf16", lambda *a: False)    # a CPU without bf16
    data = _tiny_data()
    cfg = section("train", epochs=1, batch_size=8, channels_last=True)
    auto = train(section("model"), data, cfg.model_copy(update={"precision": "auto"}), 3)
    fp32 = train(section("model"), data, cfg.model_copy(update={"precision": "fp32"}), 3)
    assert auto.precision == fp32.precision == "fp32"
    assert auto.history.val_loss == fp32.history.val_loss


@pytest.mark.skipif(not devices.cpu_supports_bf16(), reason="this CPU reports no native bf16 (avx512_bf16 / amx_bf16)")
def test_bf16_training_keeps_fp32_weights_and_learns():
    data = _tiny_data()
    cfg = section("train", epochs=2, batch_size=8, channels_last=True)
    bf16 = train(section("model"), data, cfg.model_copy(update={"precision": "bf16"}), 3)
    fp32 = train(section("model"), data, cfg.model_copy(update={"precision": "fp32"}), 3)
    assert bf16.precision == "bf16"
    assert all(p.dtype == torch.float32 for p in bf16.model.parameters())
    # The same training in another precision: the losses differ in the rounding, not in kind.
    np.testing.assert_allclose(bf16.history.train_loss, fp32.history.train_loss, rtol=0.05)


def test_skip_path_starts_as_the_least_squares_filter():
    # Every cell an AR(1), x[t] = 0.8 x[t - 1] + noise: the best 3 x 3 x 36 filter at lead 1 is 0.8 on
    # the cell's own month -1 and 0 elsewhere; ``least_squares`` starts the skip path there.
    from climemu.training.trainer import Trainer, seed_everything
    from climemu.models.registry import build_model
    rng = np.random.default_rng(1)
    x = np.zeros((700, 12, 16))
    for t in range(1, len(x)):
        x[t] = 0.8 * x[t - 1] + rng.normal(size=(12, 16))
    ds = make_sst((x + 15).astype(np.float32))
    ds.attrs["smoothing_months"] = 1
    data = WindowedData(ds, build_windows(ds, section("window", n_train=128, n_val=8, n_test=8), lead=1))
    weights = {}
    for init in ("random", "least_squares"):
        generator = seed_everything(0)
        model = build_model(section("model", skip=3), data.ocean.shape, data.input_months)
        trainer = Trainer(model, data, section("train", skip_init=init), generator)
        trainer.init_skip(seed=0)
        weights[init] = model.skip.weight.detach().numpy()[0]                 # (36, 3, 3)
    w = weights["least_squares"]
    assert w[-1, 1, 1] == pytest.approx(0.8, abs=0.05)
    others = np.abs(np.delete(w.ravel(), w.size - 5))                          # all but month -1, centre
    assert others.mean() < 0.02 and others.max() < 0.1
    assert abs(weights["random"][-1, 1, 1] - 0.8) > 0.3                         # PyTorch's default init
