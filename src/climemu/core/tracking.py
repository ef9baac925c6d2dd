"""MLflow logging for every stage: one run per stage execution.

Default store: an absolute ``sqlite:///<repository root>/mlflow.db``. Queued experiments
(``dvc exp run --queue``) run in copies under ``.dvc/tmp/exps/``; the root is resolved to the
main repository so all runs land in one database. ``MLFLOW_TRACKING_URI`` overrides it.
Outputs are written before logging, and a tracking store that fails only warns: a stage's
results are never lost to a tracking problem.
"""

from __future__ import annotations

import os
import subprocess
import urllib.request
import warnings
from pathlib import Path

import yaml

from climemu.core.paths import repository_root

EXPERIMENT = "climemu"


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{repository_root() / 'mlflow.db'}"


def git_revision() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _reachable(uri: str) -> bool:
    """A quick health check for HTTP stores, so a server that is down costs seconds, not retries."""
    if not uri.startswith(("http://", "https://")):
        return True
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=5) as r:
            return r.status == 200
    except OSError:
        return False


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def log_stage(stage: str, params: dict, metrics: dict, artifacts: list[str | Path] = (),
              tags: dict | None = None) -> str | None:
    """Log one stage execution; returns the run id, or None (with a warning) if tracking failed."""
    uri = tracking_uri()
    if not _reachable(uri):
        warnings.warn(f"MLflow tracking server {uri} is not reachable; stage {stage!r} outputs "
                      "are written but not logged", RuntimeWarning, stacklevel=2)
        return None
    try:
        import mlflow

        mlflow.set_tracking_uri(uri)
        if uri.startswith("sqlite:") and mlflow.get_experiment_by_name(EXPERIMENT) is None:
            # Artifacts beside the database, not in the (possibly temporary) working copy.
            mlflow.create_experiment(EXPERIMENT,
                                     artifact_location=(repository_root() / "mlartifacts").as_uri())
        mlflow.set_experiment(EXPERIMENT)
        exp_name = os.environ.get("DVC_EXP_NAME", "workspace")
        all_tags = {"dvc_exp": exp_name, "stage": stage, "git_rev": git_revision(),
                    **{k: str(v) for k, v in (tags or {}).items()}}
        with mlflow.start_run(run_name=f"{exp_name}:{stage}", tags=all_tags) as run:
            mlflow.log_params({k: str(v)[:500] for k, v in _flatten(params).items()})
            numeric = {k: float(v) for k, v in _flatten(metrics).items()
                       if isinstance(v, (int, float)) and not isinstance(v, bool)}
            if numeric:
                mlflow.log_metrics(numeric)
            for path in artifacts:
                if Path(path).is_file():
                    mlflow.log_artifact(str(path))
            return run.info.run_id
    except Exception as e:   # noqa: BLE001 - tracking must never lose a stage
        warnings.warn(f"MLflow logging of stage {stage!r} to {uri} failed: {e}", RuntimeWarning,
                      stacklevel=2)
        return None


def stage_params(stage: str, params, dvc_file: str | Path = "dvc.yaml") -> dict:
    """The values of the params keys that ``dvc.yaml`` lists for ``stage``: what the stage reads.

    ``params`` is the run's :class:`climemu.config.Params`; keys may be dotted
    (``explain.methods``). ``dvc.yaml`` is the one list of them, so the run logs exactly the
    parameters that DVC tracks for the stage.
    """
    try:
        keys = yaml.safe_load(Path(dvc_file).read_text())["stages"][stage].get("params", [])
    except (OSError, KeyError, TypeError):
        return {}
    out = {}
    for key in keys:
        if not isinstance(key, str):          # a mapping names keys of another params file
            continue
        value = params
        for part in key.split("."):
            value = getattr(value, part)
        out[key] = value.model_dump() if hasattr(value, "model_dump") else value
    return out


def log_run(stage: str, params, metrics: dict, artifacts: list[str | Path] = ()) -> str | None:
    """:func:`log_stage` with the stage's params from ``dvc.yaml``, tagged with lead and architecture."""
    return log_stage(stage, stage_params(stage, params), metrics, artifacts,
                     tags={"lead": params.lead, "arch": params.model.arch})
