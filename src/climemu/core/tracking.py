"""MLflow logging for every stage: one parent run per pipeline execution, a nested run per stage.

A pipeline execution (``dvc repro``, one ``dvc exp run``, one queued experiment) is a parent run
named after the DVC experiment, with all of ``params.yaml`` and the git revision; each stage's run
is nested under it (tag ``mlflow.parentRunId``), so the UI groups an experiment's stage runs.
Stages run as separate processes, so the parent is found again by a tag, ``climemu.execution``
(:func:`execution_key`): the experiment's name and baseline revision, the dvc process that runs the
stages and the params. Training adds per-epoch losses as step metrics and the network as an MLflow
PyTorch model (:class:`ModelToLog`).

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

import hashlib
import logging
import os
import subprocess
import time
import urllib.request
import warnings
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from climemu.core.params import PARAMS_FILE
from climemu.core.paths import DVC_FILE, dvc_stages, repository_root

EXPERIMENT = "climemu"
EXECUTION_TAG = "climemu.execution"     # the key that finds a pipeline execution's parent run
KIND_TAG = "climemu.kind"               # "execution" (parent) or "stage" (nested)

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


@dataclass
class ModelToLog:
    """A network to log as an MLflow PyTorch model, with an input example for its signature.

    ``input_example``: a small batch (one sample is enough) in the network's input layout; the
    signature is inferred from it and the network's output on it.
    """
    module: Any                       # torch.nn.Module; core does not import torch at module level
    input_example: Any                # numpy array
    name: str = "model"


def _dvc_process() -> str:
    """``pid:start time`` of the nearest ancestor process running ``dvc``, or "" (none, not Linux).

    Every stage of one ``dvc repro`` / ``dvc exp run`` is a child of the same dvc process, and each
    queued experiment runs in its own ``dvc exp exec-run`` process; the start time keeps a reused
    pid from joining an old execution.
    """
    pid = os.getppid()
    for _ in range(12):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return ""
        fields = stat.rsplit(")", 1)[1].split()       # after "pid (comm)": state ppid ...
        if any(Path(t.decode(errors="replace")).name == "dvc" for t in cmdline[:3] if t):
            return f"{pid}:{fields[19]}"              # field 22 of stat: start time
        pid = int(fields[1])
        if pid <= 1:
            return ""
    return ""


def _params_text(params_file: str | Path = "params.yaml") -> str:
    try:
        return Path(params_file).read_text()
    except OSError:
        return ""


def execution_name() -> str:
    return os.environ.get("DVC_EXP_NAME", "workspace")


def execution_key() -> str:
    """What the stages of one pipeline execution share, and two executions do not.

    ``CLIMEMU_EXECUTION`` in the environment wins (a user grouping runs by hand). Otherwise: the
    DVC experiment's name (``DVC_EXP_NAME``, set by ``dvc exp run`` and the queue), its baseline
    revision, the dvc process running the stages (:func:`_dvc_process`) and the params.
    """
    if os.environ.get("CLIMEMU_EXECUTION"):
        return os.environ["CLIMEMU_EXECUTION"]
    parts = [execution_name(), os.environ.get("DVC_EXP_BASELINE_REV") or git_revision(),
             _dvc_process(), hashlib.sha1(_params_text().encode()).hexdigest()]
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:16]


def log_stage(stage: str, params: dict, metrics: dict, artifacts: list[str | Path] = (),
              tags: dict | None = None, step_metrics: Mapping[str, Sequence[float]] | None = None,
              steps: Sequence[int] | None = None, model: ModelToLog | None = None) -> str | None:
    """Log one stage execution nested under its pipeline execution's parent run.

    ``step_metrics``: curves (name -> values), logged at ``steps`` (default 0, 1, ...).
    ``artifacts``: files, or folders logged under their own name. Returns the stage's run id, or
    None (with a warning) if tracking failed.
    """
    uri = tracking_uri()
    if not _reachable(uri):
        warnings.warn(f"MLflow tracking server {uri} is not reachable; stage {stage!r} outputs "
                      "are written but not logged", RuntimeWarning, stacklevel=2)
        return None
    try:
        with _bounded_http(), _quiet_mlflow(), store_lock(uri):
            return _log(uri, stage, params, metrics, artifacts, tags, step_metrics, steps, model)
    except Exception as e:   # noqa: BLE001 - tracking must never lose a stage
        warnings.warn(f"MLflow logging of stage {stage!r} to {uri} failed ({type(e).__name__}: "
                      f"{_first_line(e)}); its outputs are written but not logged",
                      RuntimeWarning, stacklevel=2)
        return None


def _parent_run(client, experiment_id: str, rev: str) -> str:
    """The run id of this pipeline execution's parent run, created on the first stage."""
    key = execution_key()
    found = client.search_runs([experiment_id], filter_string=f"tags.`{EXECUTION_TAG}` = '{key}'",
                               max_results=1)
    if found:
        return found[0].info.run_id
    from mlflow.entities import Param

    name = execution_name()
    run = client.create_run(experiment_id, run_name=name, tags={
        EXECUTION_TAG: key, KIND_TAG: "execution", "dvc_exp": name, "git_rev": rev,
        "dvc_exp_baseline_rev": os.environ.get("DVC_EXP_BASELINE_REV", rev)})
    try:
        flat = _flatten(yaml.safe_load(_params_text()) or {})
    except yaml.YAMLError:
        flat = {}
    client.log_batch(run.info.run_id, params=[Param(k, str(v)[:500]) for k, v in flat.items()])
    return run.info.run_id


def _log(uri: str, stage: str, params: dict, metrics: dict, artifacts, tags: dict | None,
         step_metrics=None, steps=None, model: ModelToLog | None = None) -> str:
    import mlflow
    from mlflow.entities import Metric

    mlflow.set_tracking_uri(uri)
    if uri.startswith("sqlite:") and mlflow.get_experiment_by_name(EXPERIMENT) is None:
        # Artifacts beside the database, not in the (possibly temporary) working copy.
        mlflow.create_experiment(EXPERIMENT,
                                 artifact_location=(repository_root() / "mlartifacts").as_uri())
    experiment = mlflow.set_experiment(EXPERIMENT)
    client = mlflow.MlflowClient(uri)
    rev = git_revision()
    parent = _parent_run(client, experiment.experiment_id, rev)
    exp_name = execution_name()
    all_tags = {"dvc_exp": exp_name, "stage": stage, "git_rev": rev, KIND_TAG: "stage",
                EXECUTION_TAG + ".parent": parent,
                **{k: str(v) for k, v in (tags or {}).items()}}
    with mlflow.start_run(run_name=f"{exp_name}:{stage}", parent_run_id=parent,
                          experiment_id=experiment.experiment_id, tags=all_tags) as run:
        mlflow.log_params({k: str(v)[:500] for k, v in _flatten(params).items()})
        numeric = {k: float(v) for k, v in _flatten(metrics).items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool)}
        if numeric:
            mlflow.log_metrics(numeric)
        if step_metrics:
            now = int(time.time() * 1000)
            series = [Metric(name, float(v), now, int(step))
                      for name, values in step_metrics.items()
                      for step, v in zip(steps if steps is not None else range(len(values)), values)]
            for i in range(0, len(series), 1000):          # MLflow's batch limit
                client.log_batch(run.info.run_id, metrics=series[i:i + 1000])
        for path in artifacts:
            path = Path(path)
            if path.is_file():
                mlflow.log_artifact(str(path))
            elif path.is_dir():
                mlflow.log_artifacts(str(path), artifact_path=path.name)
        if model is not None:
            _log_model(model)
        run_id = run.info.run_id
    client.set_terminated(parent)         # the execution ends (again) with its latest stage
    return run_id


def _log_model(model: ModelToLog) -> None:
    """The network as an MLflow PyTorch model: ``mlflow.pytorch.load_model`` opens it.

    MLflow's default format, a ``torch.export`` graph ("pt2"), loads without this package's code
    and runs no pickled code; a network that does not export falls back to a pickle, with the
    package's source beside it (``code_paths``). Requirements are given, not inferred: inference
    loads the model in a subprocess (slow).
    """
    import mlflow
    import mlflow.pytorch
    import numpy as np
    import torch
    from mlflow.models import infer_signature

    example = np.asarray(model.input_example, dtype=np.float32)
    module = model.module.eval()
    with torch.no_grad():
        output = module(torch.from_numpy(example)).cpu().numpy()
    common = {"name": model.name, "signature": infer_signature(example, output),
              "input_example": example,
              "pip_requirements": [f"torch=={torch.__version__.split('+')[0]}",
                                   f"mlflow=={mlflow.__version__}", f"numpy=={np.__version__}"]}
    try:
        mlflow.pytorch.log_model(module, serialization_format="pt2", **common)
    except Exception as e:   # noqa: BLE001 - torch.export refuses some graphs
        warnings.warn(f"the network does not export ({type(e).__name__}: {_first_line(e)}); "
                      "logged as a pickle with the package's source", RuntimeWarning, stacklevel=3)
        mlflow.pytorch.log_model(module, serialization_format="pickle",
                                 code_paths=[str(Path(__file__).resolve().parents[1])], **common)


def stage_params(stage: str, params, dvc_file: str | Path = DVC_FILE) -> dict:
    """The values of the params keys that ``dvc.yaml`` lists for ``stage``: what the stage reads.

    ``params`` is the stage's view (:class:`climemu.core.params.StageParams`) or the whole file's
    :class:`climemu.config.Params`; keys may be dotted (``explain.methods``). ``dvc.yaml`` is the
    one list of them, so the run logs exactly the parameters that DVC tracks for the stage.
    """
    try:
        keys = dvc_stages(dvc_file)[stage].get("params", [])
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


def log_run(stage: str, params, metrics: dict, artifacts: list[str | Path] = (),
            **extra) -> str | None:
    """:func:`log_stage` with the stage's params from ``dvc.yaml``, tagged with the experiment's
    lead and architecture (the parent run holds all of ``params.yaml``).

    The tags come from ``params.yaml``, not from the stage's params: a stage that does not read
    the lead (``basin``, ``band``) still reruns in a ``-S lead=6`` experiment, on its windows and
    network, and its run is found under that lead like the others.

    ``extra``: ``step_metrics``, ``steps`` and ``model`` of :func:`log_stage`.
    """
    logged = stage_params(stage, params)
    return log_stage(stage, logged, metrics, artifacts, tags=_experiment_tags(), **extra)


def _experiment_tags(params_file: str | Path = PARAMS_FILE) -> dict[str, str]:
    """``lead`` and ``arch`` of the run's ``params.yaml`` (none where it cannot be read)."""
    try:
        with Path(params_file).open() as f:
            raw = yaml.safe_load(f) or {}
    except (OSError, yaml.YAMLError):
        return {}
    tags = {"lead": raw.get("lead"), "arch": (raw.get("model") or {}).get("arch")}
    return {tag: str(value) for tag, value in tags.items() if value is not None}
