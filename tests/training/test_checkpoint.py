"""Checkpoints rebuild the network they were written from, including ones older than model.skip."""

import numpy as np
import torch

from climemu.core.io import save_torch
from climemu.models.registry import build_model
from climemu.training.checkpoint import load_checkpoint
from tests.helpers import section

GRID = (12, 20)


def _write(path, model, meta: dict) -> None:
    save_torch({"state_dict": model.state_dict(), "model": meta, "grid": GRID, "input_months": 36,
                "ocean": np.ones(GRID, dtype=bool)}, path)


def test_skip_path_round_trips(tmp_path):
    torch.manual_seed(0)
    cfg = section("model", skip=3)
    model = build_model(cfg, GRID)
    _write(tmp_path / "m.pt", model, cfg.model_dump())
    loaded, meta = load_checkpoint(tmp_path / "m.pt")
    assert meta["model"]["skip"] == 3
    assert torch.equal(loaded.skip.weight, model.skip.weight)


def test_a_checkpoint_from_before_skip_loads_without_one(tmp_path):
    torch.manual_seed(0)
    cfg = section("model", skip=0)              # Table 1, as every checkpoint was then
    model = build_model(cfg, GRID)
    meta = cfg.model_dump()
    meta.pop("skip")                                   # as written before model.skip existed
    _write(tmp_path / "old.pt", model, meta)
    loaded, _ = load_checkpoint(tmp_path / "old.pt")
    assert loaded.skip is None
    x = torch.randn(1, 36, *GRID)
    with torch.no_grad():
        assert torch.equal(loaded(x), model.eval()(x))
