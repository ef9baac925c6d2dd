"""Resuming training after a kill: one snapshot per epoch, outside DVC's outputs, keyed by inputs.

At the paper's scale training takes hours on a CPU, so a killed ``train`` stage picks up after
its last finished epoch instead of starting again. After every epoch the trainer saves model,
optimiser, history, best-so-far and the RNG states (the shuffling generator, torch's, numpy's,
CUDA's) to ``.climemu/resume/<key>/last.pt`` under the repository root: ignored by git and not
a DVC output, so ``dvc repro`` neither removes nor caches it. ``<key>`` hashes everything the
training result depends on: the ``model`` and ``train`` params, the seed, the bytes of the data
files and the package's source code; a changed param, data file or code gives a new key, so a
stale snapshot is never resumed. A resumed run computes exactly what the uninterrupted one
would have (same weights, same metrics; only timings differ). The stage deletes the snapshot
once its outputs are written. See docs/reliability.md.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path

import torch

from climemu.core.io import save_torch
from climemu.core.paths import repository_root

log = logging.getLogger(__name__)

RESUME_DIR = Path(".climemu") / "resume"      # under the repository root
SNAPSHOT = "last.pt"
PACKAGE = Path(__file__).resolve().parents[1]   # src/climemu: its source is part of the key


def _sha256(path: Path, h: "hashlib._Hash") -> None:
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)


def training_key(settings: dict, data_files: list[str | Path], code: Path = PACKAGE) -> str:
    """A short hash of the settings (JSON-able), the data files' bytes and the code's source."""
    h = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    for f in data_files:
        h.update(b"\0data\0")
        _sha256(Path(f), h)
    for py in sorted(code.rglob("*.py")):
        h.update(b"\0code\0" + str(py.relative_to(code)).encode() + b"\0")
        _sha256(py, h)
    return h.hexdigest()[:20]


class Snapshots:
    """The per-epoch snapshot of one training run (one key)."""

    def __init__(self, folder: str | Path, key: str):
        self.folder = Path(folder) / key
        self.path = self.folder / SNAPSHOT

    @classmethod
    def for_training(cls, model_cfg, train_cfg, seed: int, data_files: list[str | Path],
                     root: str | Path | None = None) -> "Snapshots":
        settings = {"model": model_cfg.model_dump(mode="json"),
                    "train": train_cfg.model_dump(mode="json"), "seed": seed}
        return cls(Path(root or repository_root()) / RESUME_DIR, training_key(settings, data_files))

    def load(self, device: str | torch.device = "cpu") -> dict | None:
        """The last snapshot, or None (none saved, or unreadable: then training starts afresh)."""
        if not self.path.is_file():
            return None
        try:
            return torch.load(self.path, map_location=device, weights_only=False)
        except Exception as e:   # a damaged snapshot only costs the epochs it held
            log.warning("ignoring unreadable snapshot %s (%s: %s); training from epoch 1",
                        self.path, type(e).__name__, e)
            print(f"train: ignoring unreadable snapshot {self.path} ({type(e).__name__}); "
                  f"training from epoch 1")
            return None

    def save(self, state: dict) -> None:
        save_torch(state, self.path)

    def clear(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
