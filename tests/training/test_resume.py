"""Resuming training after a kill gives what an uninterrupted run gives (training/resume.py)."""

import numpy as np
import pytest
import torch

from climemu.training import trainer as trainer_module
from climemu.training.resume import Snapshots, training_key
from climemu.training.trainer import train
from tests.helpers import section
from tests.training.test_trainer import _tiny_data


class Killed(Exception):
    """Stands for SIGKILL right after a snapshot was saved."""


def _cfg(**kw):
    return section("train", **{"epochs": 3, "batch_size": 8, "channels_last": True, **kw})


def _same(a, b):
    for (k, va), vb in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        assert torch.equal(va, vb), k
    assert (a.history, a.best_epoch, a.val_rmse, a.val_acc) == (b.history, b.best_epoch, b.val_rmse, b.val_acc)


@pytest.mark.parametrize("schedule", ["constant", "cosine"])
def test_killed_after_epoch_1_of_3_resumes_to_the_uninterrupted_result(tmp_path, monkeypatch, schedule):
    data = _tiny_data()
    cfg = _cfg(schedule=schedule)
    whole = train(section("model"), data, cfg, seed=3)                  # no snapshots: as before
    snaps = Snapshots(tmp_path, "k")
    saved = []
    real_save = Snapshots.save

    def save_then_die(self, state):
        real_save(self, state)
        saved.append(state["epoch"])
        raise Killed

    monkeypatch.setattr(Snapshots, "save", save_then_die)
    with pytest.raises(Killed):
        train(section("model"), data, cfg, seed=3, snapshots=snaps)
    assert saved == [1] and snaps.path.is_file()
    monkeypatch.setattr(Snapshots, "save", real_save)
    epochs_run = []
    real_epoch = trainer_module.Trainer.train_epoch
    monkeypatch.setattr(trainer_module.Trainer, "train_epoch",
                        lambda self, e: epochs_run.append(e) or real_epoch(self, e))
    resumed = train(section("model"), data, cfg, seed=3, snapshots=snaps)
    assert epochs_run == [2, 3]                                           # epoch 1 not redone
    _same(resumed, whole)
    assert torch.load(snaps.path, weights_only=False)["epoch"] == 3
    snaps.clear()
    assert not snaps.folder.exists()


def test_snapshots_do_not_change_an_uninterrupted_run(tmp_path):
    data = _tiny_data()
    _same(train(section("model"), data, _cfg(epochs=2), seed=3, snapshots=Snapshots(tmp_path, "k")),
          train(section("model"), data, _cfg(epochs=2), seed=3))


def test_an_unreadable_snapshot_starts_afresh(tmp_path, capsys):
    snaps = Snapshots(tmp_path, "k")
    snaps.folder.mkdir(parents=True)
    snaps.path.write_bytes(b"not a snapshot")
    assert snaps.load() is None
    assert "ignoring unreadable snapshot" in capsys.readouterr().out


def test_key_changes_with_every_training_input(tmp_path):
    data = tmp_path / "windows.nc"
    data.write_bytes(b"abc")
    code = tmp_path / "code"
    code.mkdir()
    (code / "m.py").write_text("x = 1\n")
    settings = {"train": section("train").model_dump(mode="json"), "seed": 0}
    key = training_key(settings, [data], code)
    assert training_key(settings, [data], code) == key
    changed_lr = {**settings, "train": {**settings["train"], "lr": 0.002}}
    assert training_key(changed_lr, [data], code) != key
    assert training_key({**settings, "seed": 1}, [data], code) != key
    data.write_bytes(b"abd")
    assert training_key(settings, [data], code) != key
    data.write_bytes(b"abc")
    (code / "m.py").write_text("x = 2\n")
    assert training_key(settings, [data], code) != key


def test_a_changed_param_never_resumes_a_stale_run(tmp_path):
    files = [tmp_path / "smoothed.nc", tmp_path / "windows.nc"]
    for f in files:
        f.write_bytes(np.arange(10).tobytes())
    model = section("model")
    old = Snapshots.for_training(model, _cfg(), 0, files, root=tmp_path)
    old.save({"epoch": 1})
    assert Snapshots.for_training(model, _cfg(), 0, files, root=tmp_path).load() == {"epoch": 1}
    assert Snapshots.for_training(model, _cfg(lr=0.01), 0, files, root=tmp_path).load() is None
    assert Snapshots.for_training(model, _cfg(), 1, files, root=tmp_path).load() is None
    assert old.folder.parent == tmp_path / ".climemu" / "resume"
