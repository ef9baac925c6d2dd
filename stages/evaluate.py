"""evaluate: the emulator beside climatology, persistence, damped persistence and a LIM on the
validation and test splits -> metrics/skill.json, plots/skill.csv, Fig. 1 and a skill map."""

import environment  # noqa: F401  (first: a plain message when the project's environment is missing)

import time


from climemu.report import figures
from climemu.core import paths
from climemu.truth.predictor import TruthPredictor
from climemu.training.checkpoint import load_trained
from climemu.core.params import LEAD, SEED, load_stage_params
from climemu.forecast.config import EvaluateConfig
from climemu.core.errors import run_stage
from climemu.truth.loader import load_truth
from climemu.forecast.evaluate import evaluate
from climemu.core.grid import box_mask
from climemu.core.io import write_csv, write_json
from climemu.core.tracking import log_run


def main() -> None:
    params = load_stage_params("evaluate", lead=LEAD, seed=SEED, evaluate=EvaluateConfig)
    start = time.perf_counter()
    model, data = load_trained(allow_test=True)   # evaluate is the only reader of test
    truth = load_truth()                       # synthetic: also score the planted link's target box
    regions = {"target_box": box_mask(data.lat, data.lon, truth.target_box).values} if truth else None
    # Synthetic: the best linear predictor of the known model, the ceiling (exact without
    # smoothing and seasonal cycle; see docs/data.md, "The exact setting").
    extra = {"truth": TruthPredictor(truth.model, data.lead)} if truth else None
    metrics, table, maps = evaluate(model, data, params.evaluate, params.seed, regions, extra)
    metrics["lead"] = params.lead
    write_json(metrics, paths.SKILL_METRICS)
    write_csv(table, paths.SKILL)
    figures.fig1_test_sample(maps["sample_target"], maps["sample_forecast"], data.ocean, maps["sample_time"],
                             paths.FIG1)
    figures.skill_map(maps["time_corr_model"], maps["time_corr_damped"], data.ocean, paths.SKILL_MAP)
    seconds = time.perf_counter() - start
    test = metrics["test"]
    print(f"evaluate ({seconds:.1f} s), test RMSE degC / time ACC: "
          + ", ".join(f"{k} {v['rmse_degC']:.3f} / {v['acc_time']:.3f}" for k, v in test.items()))
    log_run("evaluate", params, {"val": metrics["val"], "test": metrics["test"], "seconds": seconds},
            [paths.SKILL_METRICS, paths.SKILL, paths.FIG1])


if __name__ == "__main__":
    run_stage(main, "evaluate")
