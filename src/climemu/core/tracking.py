"""MLflow logging for every stage: one run per stage execution.

Default store: an absolute ``sqlite:///<repository root>/mlflow.db``. Queued experiments
(``dvc exp run --queue``) run in copies under ``.dvc/tmp/exps/``; the root is resolved to the
main repository so all runs land in one database. ``MLFLOW_TRACKING_URI`` overrides it.
Outputs are written before logging, and a tracking store that fails only warns: a stage's
results are never lost to a tracking problem. Nor does a stage wait minutes on one: HTTP requests
are bounded (:data:`HTTP_LIMITS`, unless the environment sets them), a server that is down or
silent fails its health check in seconds, and a locked sqlite file fails after MLflow's 20 s busy
timeout. Stages that run at once (``dvc queue start -j 2``) take turns on the sqlite file
(:func:`store_lock`), so the first ones do not race to create its tables or the experiment.
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
import urllib.request
import warnings
from contextlib import contextmanager
from pathlib import Path

import yaml

from climemu.core.paths import repository_root

EXPERIMENT = "climemu"

# MLflow's HTTP client defaults (120 s timeout, 7 retries with backoff) hold a stage for minutes
# when a server stops answering; these bound one failed call to about 25 s. Set in the
# environment, the variables win.
HTTP_LIMITS = {"MLFLOW_HTTP_REQUEST_TIMEOUT": "10", "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
               "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1"}
HEALTH_TIMEOUT_S = 5
LOCK_WAIT_S = 120          # how long a stage waits for its turn on the sqlite file


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
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=HEALTH_TIMEOUT_S) as r:
            return r.status == 200
    except OSError:
        return False


@contextmanager
def _bounded_http():
    """:data:`HTTP_LIMITS` for the duration of one logging call (MLflow reads them per request)."""
    added = {k: v for k, v in HTTP_LIMITS.items() if k not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for k in added:
            os.environ.pop(k, None)


@contextmanager
def store_lock(uri: str, wait_s: float = LOCK_WAIT_S):
    """An exclusive lock on ``<database>.lock`` while a process logs to a sqlite store.

    Stages of parallel experiments would otherwise race to create the tables or the experiment
    in a new file, and the loser's run would be lost. Waits at most ``wait_s``, then logs anyway
    (sqlite's own busy timeout still applies). No-op for other stores.
    """
    if not uri.startswith("sqlite:///"):
        yield
        return
    try:
        import fcntl
    except ImportError:            # not POSIX: sqlite's busy timeout only
        yield
        return
    db = Path(uri.removeprefix("sqlite:///").split("?")[0])
    db.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{db}.lock", "a") as f:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                locked = True
                break
            except OSError:
                if time.monotonic() > deadline:
                    locked = False
                    break
                time.sleep(0.2)
        try:
            yield
        finally:
            if locked:
                fcntl.flock(f, fcntl.LOCK_UN)


@contextmanager
def _quiet_mlflow():
    """MLflow logs a full traceback for each failed database call; our warning says it once."""
    logger = logging.getLogger("mlflow.store.db.utils")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _first_line(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


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
        with _bounded_http(), _quiet_mlflow(), store_lock(uri):
            return _log(uri, stage, params, metrics, artifacts, tags)
    except Exception as e:   # noqa: BLE001 - tracking must never lose a stage
        warnings.warn(f"MLflow logging of stage {stage!r} to {uri} failed ({type(e).__name__}: "
                      f"{_first_line(e)}); its outputs are written but not logged",
                      RuntimeWarning, stacklevel=2)
        return None


def _log(uri: str, stage: str, params: dict, metrics: dict, artifacts, tags: dict | None) -> str:
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
