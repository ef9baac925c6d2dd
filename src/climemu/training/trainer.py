"""Training the emulator: masked MSE over ocean cells, Adam with weight decay (paper Sec. 2).

The best epoch is chosen on the validation split, never on test. Seeded and deterministic on
the CPU: the same params give the same weights and metrics on the same machine.

``train.precision``: the network's forward (and so its backward) runs in bf16 autocast where the
hardware computes in bf16 natively; weights, Adam's state, the loss and the checkpoint stay fp32
(docs/performance.md, "Half precision").

Under torchrun (``train.nproc > 1``) the model is wrapped in DistributedDataParallel: every
process draws the same shuffled order, takes its share of each global batch, and the gradients
are averaged across processes; validation sums are added up across processes, so every process
picks the same best epoch. BatchNorm statistics are per process, as DDP leaves them.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from climemu.core import distributed

from climemu.core.progress import progress

from climemu.models.config import ModelConfig

from climemu.training.config import TrainConfig
from climemu.training.resume import Snapshots
from climemu.core.devices import autocast, memory_layout, resolve_device, resolve_precision
from climemu.data.window import WindowedData
from climemu.models.linear import least_squares_filter
from climemu.models.registry import build_model

log = logging.getLogger(__name__)


def masked_mse(pred: torch.Tensor, target: torch.Tensor, ocean: torch.Tensor) -> torch.Tensor:
    """Mean squared error over ocean cells only. pred, target (B, 1, H, W); ocean (H, W) bool.

    Land is masked after the network (the paper's "hard constraint in post-processing"), so
    land cells must not count in the loss.
    """
    w = ocean.to(pred.dtype)
    return ((pred - target) ** 2 * w).sum() / (w.sum() * pred.shape[0])


def anomaly_correlation(pred: torch.Tensor, target: torch.Tensor, ocean: torch.Tensor) -> torch.Tensor:
    """(B,) Pearson correlation over ocean cells between predicted and true anomaly maps."""
    p, t = pred[:, 0][:, ocean], target[:, 0][:, ocean]                 # (B, n_ocean)
    p, t = p - p.mean(1, keepdim=True), t - t.mean(1, keepdim=True)
    return (p * t).sum(1) / (p.norm(dim=1) * t.norm(dim=1)).clamp_min(1e-12)


def learning_rate(cfg: TrainConfig, progress: float) -> float:
    """The learning rate after ``progress`` (0 to 1) of all training steps."""
    if cfg.schedule == "cosine":
        return cfg.lr * 0.5 * (1.0 + math.cos(math.pi * progress))
    return cfg.lr


def seed_everything(seed: int) -> torch.Generator:
    torch.manual_seed(seed)
    np.random.seed(seed)
    # Deterministic kernels where they exist; warn (not fail) where a CUDA op has none.
    torch.use_deterministic_algorithms(True, warn_only=True)
    return torch.Generator().manual_seed(seed)


@dataclass
class History:
    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)


@dataclass
class TrainResult:
    model: nn.Module
    history: History
    best_epoch: int
    val_rmse: float            # degC
    val_acc: float             # mean pattern anomaly correlation over ocean
    seconds: float
    samples_per_second: float
    device: str
    precision: str             # "fp32" or "bf16": what the forward passes ran in


class Trainer:
    """Call :func:`seed_everything` before building the model (see :func:`train`)."""

    def __init__(self, model: nn.Module, data: WindowedData, cfg: TrainConfig, generator: torch.Generator):
        self.cfg, self.data = cfg, data
        self.generator = generator
        if cfg.num_threads:
            torch.set_num_threads(cfg.num_threads)
        self.device = distributed.local_device(resolve_device(cfg.device))
        self.precision = resolve_precision(cfg.precision, self.device)     # "fp32" or "bf16"
        self.layout = memory_layout(cfg.channels_last)
        self.model = model.to(self.device, memory_format=self.layout)
        self.net = self.model               # what the training step calls
        if distributed.world() > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = DistributedDataParallel(self.model, device_ids=ids)
        self.ocean = torch.from_numpy(data.ocean).to(self.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.lr,
                                          weight_decay=cfg.weight_decay)

    def init_skip(self, seed: int, cells: int = 128) -> None:
        """``train.skip_init: least_squares``: the skip path (a bias-free k x k convolution from the
        input months to the output, docs/model.md) starts as the best linear filter of its size
        on the training split, ``cells`` random ocean cells per sample."""
        skip = getattr(self.model, "skip", None)
        if self.cfg.skip_init != "least_squares" or skip is None:
            return
        n = self.data.n_samples("train")
        batches = (np.arange(s, min(s + 64, n)) for s in range(0, n, 64))
        samples = ((self.data.inputs("train", p).numpy(), self.data.targets_of("train", p)[:, 0].numpy())
                   for p in batches)
        weights = least_squares_filter(samples, self.data.ocean, skip.kernel_size[0] // 2, cells, seed)
        with torch.no_grad():
            skip.weight.copy_(torch.from_numpy(weights[None]).to(skip.weight))   # (1, 36, k, k)

    def _batch(self, split: str, positions) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.data.inputs(split, positions).to(self.device, memory_format=self.layout)
        y = self.data.targets_of(split, positions).to(self.device)
        return x, y

    def _batches(self, split: str, shuffle: bool):
        n = self.data.n_samples(split)
        order = torch.randperm(n, generator=self.generator).numpy() if shuffle else np.arange(n)
        for start in range(0, n, self.cfg.batch_size):
            yield order[start:start + self.cfg.batch_size]

    def _train_batches(self):
        """This process's share of each global batch (all of it with one process).

        With several processes a last batch that does not split evenly is dropped, so every
        process runs the same number of steps with equal shares (DDP averages gradients).
        """
        world = distributed.world()
        for positions in self._batches("train", shuffle=True):
            if world > 1 and len(positions) % world:
                continue
            yield distributed.shard(positions)

    def train_epoch(self, epoch: int) -> float:
        self.model.train()
        total, count = 0.0, 0
        steps = -(-self.data.n_samples("train") // self.cfg.batch_size)   # batches per epoch
        bar = progress(self._train_batches(), desc=f"epoch {epoch}", unit="batch",
                       total=steps, leave=False)
        for step, positions in enumerate(bar):
            lr = learning_rate(self.cfg, (epoch - 1 + step / steps) / self.cfg.epochs)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            x, y = self._batch("train", positions)
            self.optimizer.zero_grad(set_to_none=True)
            with autocast(self.precision, self.device):
                pred = self.net(x)
            loss = masked_mse(pred.float(), y, self.ocean)    # the loss in fp32 whatever the forward
            loss.backward()
            self.optimizer.step()
            total += loss.item() * len(positions)
            count += len(positions)
            bar.set_postfix(loss=f"{total / count:.4f}", refresh=False)
        total, count = distributed.all_reduce_sum(np.array([total, count], dtype=np.float64))
        return float(total / count)

    @torch.no_grad()
    def evaluate(self, split: str = "val") -> tuple[float, float]:
        """Masked MSE (normalised units) and mean anomaly correlation on a split."""
        self.model.eval()
        sq, acc, n = 0.0, 0.0, 0
        for positions in distributed.shard(list(self._batches(split, shuffle=False))):
            x, y = self._batch(split, positions)
            with autocast(self.precision, self.device):    # the precision the network trains in
                pred = self.model(x).float()
            sq += masked_mse(pred, y, self.ocean).item() * len(positions)
            acc += anomaly_correlation(pred, y, self.ocean).sum().item()
            n += len(positions)
        sq, acc, n = distributed.all_reduce_sum(np.array([sq, acc, n], dtype=np.float64))
        return float(sq / n), float(acc / n)

    def _snapshot(self, epoch: int, history: History, best: tuple, seconds: float) -> dict:
        """Everything the epochs after ``epoch`` depend on (training/resume.py)."""
        return {
            "epoch": epoch, "seconds": seconds,
            "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "history": {"epoch": history.epoch, "train_loss": history.train_loss,
                        "val_loss": history.val_loss},
            "best": best,
            "rng": {"generator": self.generator.get_state(), "torch": torch.get_rng_state(),
                    "numpy": np.random.get_state(),
                    "cuda": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else None},
        }

    def _restore(self, snap: dict) -> tuple[int, History, tuple, float]:
        self.model.load_state_dict(snap["model"])
        self.optimizer.load_state_dict(snap["optimizer"])
        rng = snap["rng"]
        self.generator.set_state(rng["generator"].cpu())
        torch.set_rng_state(rng["torch"].cpu())
        np.random.set_state(rng["numpy"])
        if rng["cuda"] is not None and self.device.type == "cuda":
            torch.cuda.set_rng_state_all([s.cpu() for s in rng["cuda"]])
        return snap["epoch"], History(**snap["history"]), tuple(snap["best"]), snap["seconds"]

    def fit(self, snapshots: Snapshots | None = None) -> TrainResult:
        """Train ``cfg.epochs`` epochs; with ``snapshots``, save one after every epoch and start
        after the last saved one (a resumed run computes exactly what an uninterrupted one does)."""
        history, best = History(), (float("inf"), 0, None, 0.0)
        done, before = 0, 0.0
        snap = snapshots.load(self.device) if snapshots is not None else None
        if snap is not None:
            done, history, best, before = self._restore(snap)
            if distributed.is_main():
                tqdm.write(f"train: resuming after epoch {done} of {self.cfg.epochs} from "
                           f"{snapshots.path} (delete it to start afresh)")
        start = time.perf_counter()
        for epoch in range(done + 1, self.cfg.epochs + 1):
            train_loss = self.train_epoch(epoch)
            val_loss, val_acc = self.evaluate("val")
            history.epoch.append(epoch)
            history.train_loss.append(train_loss)
            history.val_loss.append(val_loss)
            if val_loss < best[0]:
                best = (val_loss, epoch, copy.deepcopy(self.model.state_dict()), val_acc)
            if snapshots is not None and distributed.is_main():
                snapshots.save(self._snapshot(epoch, history, best,
                                              before + time.perf_counter() - start))
            log.info("epoch %d: train %.4f  val %.4f  acc %.3f", epoch, train_loss, val_loss, val_acc)
            if distributed.is_main():
                tqdm.write(f"epoch {epoch}: train loss {train_loss:.4f}  val loss {val_loss:.4f}  "
                           f"val acc {val_acc:.3f}")
        seconds = before + time.perf_counter() - start
        val_loss, best_epoch, state, val_acc = best
        self.model.load_state_dict(state)
        n_seen = self.cfg.epochs * self.data.n_samples("train")   # by all processes together
        return TrainResult(
            model=self.model.to(memory_format=torch.contiguous_format), history=history,
            best_epoch=best_epoch, val_rmse=float(np.sqrt(val_loss)) * self.data.scale,
            val_acc=val_acc, seconds=seconds, samples_per_second=n_seen / seconds,
            device=str(self.device), precision=self.precision)


def train(model_cfg: ModelConfig, data: WindowedData, cfg: TrainConfig, seed: int,
          snapshots: Snapshots | None = None) -> TrainResult:
    """Seed, build the network (so its initialisation is seeded too) and fit it.

    ``snapshots``: resume after a kill (training/resume.py). Under torchrun, joins the process
    group first (the caller tears it down)."""
    distributed.setup(distributed.local_device(resolve_device(cfg.device)))
    generator = seed_everything(seed)
    model = build_model(model_cfg, data.ocean.shape, data.input_months)
    trainer = Trainer(model, data, cfg, generator)
    trainer.init_skip(seed)          # before the first epoch; a resumed run restores its weights
    return trainer.fit(snapshots)
