"""train: the Table 1 DenseNet on the windows -> models/model.pt, metrics/train.json,
plots/train_curve.csv. ``train.nproc > 1`` runs it under torchrun (DistributedDataParallel).
A killed run resumes after its last finished epoch (climemu.training.resume)."""

import environment  # noqa: F401  (first: a plain message when the project's environment is missing)

import pandas as pd

from climemu.core import distributed, paths
from climemu.training.checkpoint import load_checkpoint, save_checkpoint
from climemu.core.params import LEAD, SEED, load_stage_params
from climemu.models.config import ModelConfig
from climemu.training.config import TrainConfig
from climemu.core.errors import run_stage
from climemu.data.window import WindowedData
from climemu.core.io import write_csv, write_json
from climemu.models.registry import count_parameters
from climemu.core.tracking import ModelToLog, log_run
from climemu.training.resume import Snapshots
from climemu.training.trainer import train


def main() -> None:
    params = load_stage_params("train", lead=LEAD, seed=SEED, model=ModelConfig, train=TrainConfig)
    if distributed.relaunch(params.train.nproc, __file__, "train.nproc"):
        return
    data = WindowedData.open(paths.SMOOTHED, paths.WINDOWS)
    # Killed mid-way, the next run resumes after the last finished epoch (training/resume.py).
    snapshots = Snapshots.for_training(params.model, params.train, params.seed,
                                       [paths.SMOOTHED, paths.WINDOWS])
    result = train(params.model, data, params.train, params.seed, snapshots)
    if distributed.is_main():
        report(params, data, result)
        snapshots.clear()
    distributed.teardown()


def report(params, data, result) -> None:
    save_checkpoint(paths.MODEL, result.model, params.model, data,
                    extra={"best_epoch": result.best_epoch, "seed": params.seed, "precision": result.precision})
    metrics = {
        "n_params": count_parameters(result.model),
        "best_epoch": result.best_epoch,
        "val_rmse_degC": round(result.val_rmse, 6),
        "val_acc": round(result.val_acc, 6),
        "train_seconds": round(result.seconds, 2),
        "samples_per_second": round(result.samples_per_second, 3),
        "n_train": data.n_samples("train"),
        "device": result.device,
        "precision": result.precision,
        "processes": distributed.world(),
    }
    write_json(metrics, paths.TRAIN_METRICS)
    h = result.history
    write_csv(pd.DataFrame({"epoch": h.epoch, "train_loss": h.train_loss, "val_loss": h.val_loss}),
              paths.TRAIN_CURVE)
    print(f"train: best epoch {result.best_epoch}, val RMSE {result.val_rmse:.4f} degC, "
          f"val ACC {result.val_acc:.3f}, {result.samples_per_second:.1f} samples/s "
          f"on {distributed.world()} process(es)")
    # The checkpoint as written (CPU, eval mode) becomes the MLflow model; two validation windows
    # are its input example (two, so torch.export keeps the batch dimension free). Per-epoch losses are step metrics, the curve in the MLflow UI.
    model, _ = load_checkpoint(paths.MODEL)
    log_run("train", params, metrics, [paths.TRAIN_METRICS, paths.TRAIN_CURVE],
            step_metrics={"train_loss": h.train_loss, "val_loss": h.val_loss}, steps=h.epoch,
            model=ModelToLog(model, data.inputs("val", [0, 1]).numpy()))


if __name__ == "__main__":
    run_stage(main, "train")
