"""A stage's view of ``params.yaml``: the keys its ``dvc.yaml`` stage declares, and nothing else.

DVC reruns a stage when a param it declares changes, and only then. A stage that reads a key it
does not declare would keep a stale result after that key changes; one that validates sections it
does not use would fail for a typo it cannot be affected by, and would depend on their code. So
each stage script names the sections it reads and loads them through :func:`load_stage_params`::

    params = load_stage_params("score", lead=LEAD, seed=SEED, explain=ExplainConfig, score=ScoreConfig)
    params.explain.methods        # declared in dvc.yaml (``explain.methods``): its validated value
    params.explain.n_steps        # not declared: UndeclaredParam, naming the key and the fix

The sections given must be exactly the top-level sections of the stage's ``params`` in dvc.yaml;
each is validated whole (its model checks its own keys), and only the declared keys can be read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Callable

import yaml
from pydantic import Field, TypeAdapter, ValidationError

from climemu.core.config import ConfigError, _describe
from climemu.core.paths import DVC_FILE, dvc_stages

PARAMS_FILE = "params.yaml"

# The two top-level values.
LEAD = Annotated[int, Field(ge=1, le=36)]   # months ahead of the last input month
SEED = int                                  # model initialisation, shuffling, baseline draws


class UndeclaredParam(ConfigError):
    """A stage read a key its ``dvc.yaml`` stage does not declare (a bug in the stage's code)."""


def read_params_file(path: str | Path = PARAMS_FILE) -> dict:
    """``params.yaml`` as a mapping of sections, with a plain message for each way it can be wrong."""
    path = Path(path)
    try:
        with path.open() as f:
            raw = yaml.safe_load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path} not found in {Path.cwd()}: run the stages from the repository "
                          "root (as `dvc repro` does)") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path} is not valid YAML: {' '.join(str(e).split())}; fix the file "
                          "or restore it with `git checkout params.yaml`") from None
    if raw is not None and not isinstance(raw, dict):
        raise ConfigError(f"{path} must hold a mapping of sections (data, smooth, ...), "
                          f"found a {type(raw).__name__}")
    return raw or {}


# The checkout's own pipeline, for a stage script run by hand outside the repository root.
_CHECKOUT_DVC_FILE = Path(__file__).resolve().parents[3] / DVC_FILE


def declared_params(stage: str, dvc_file: str | Path | None = None) -> tuple[str, ...]:
    """The params keys ``dvc.yaml`` lists for ``stage`` (dotted, as written there).

    ``dvc_file``: by default the one in the working directory (where DVC runs the stages), else
    the checkout's."""
    if dvc_file is None:
        dvc_file = DVC_FILE if Path(DVC_FILE).is_file() else _CHECKOUT_DVC_FILE
    try:
        spec = dvc_stages(dvc_file)[stage]
    except (OSError, KeyError):
        raise ConfigError(f"{dvc_file} defines no stage {stage!r}: run the stage from the "
                          "repository root") from None
    return tuple(k for k in spec.get("params", []) if isinstance(k, str))


def _covers(declared: str, key: str) -> bool:
    return key == declared or key.startswith(declared + ".")


class StageParams:
    """Attribute access to validated params, limited to the declared keys (and what lies below them).

    A node above a declared key (``explain`` when ``explain.methods`` is declared) is a view too;
    a declared node is returned as its validated value (a section model, a list, a number).
    """

    def __init__(self, stage: str, value: Any, declared: tuple[str, ...], prefix: str = ""):
        self._stage, self._value, self._declared, self._prefix = stage, value, declared, prefix

    def declares(self, key: str) -> bool:
        """Whether ``key`` (dotted, from the top) may be read by this stage."""
        return any(_covers(d, key) for d in self._declared)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        key = f"{self._prefix}.{name}" if self._prefix else name
        value = self._value[name] if isinstance(self._value, dict) else getattr(self._value, name)
        if self.declares(key):
            return value
        if any(d.startswith(key + ".") for d in self._declared):
            return StageParams(self._stage, value, self._declared, key)
        raise UndeclaredParam(
            f"stage {self._stage!r} read params key {key!r}, which its stage in dvc.yaml does not "
            f"declare (it declares {', '.join(self._declared) or 'none'}): add {key!r} to the "
            f"stage's `params` in dvc.yaml, or an edit to it would not rerun the stage")

    def __repr__(self) -> str:
        return f"StageParams({self._stage!r}, {', '.join(self._declared)})"


def load_stage_params(stage: str, /, *, checks: tuple[Callable[[StageParams], None], ...] = (),
                      params_file: str | Path = PARAMS_FILE, dvc_file: str | Path | None = None,
                      **sections: Any) -> StageParams:
    """The declared params of ``stage``, validated: ``sections`` maps each top-level section it
    declares to its type (a section model, :data:`LEAD`, :data:`SEED`).

    ``checks``: functions of the view that raise ``ValueError`` when values of two sections
    disagree (a cell outside the box); each runs on the declared keys only.
    """
    declared = declared_params(stage, dvc_file)
    tops = list(dict.fromkeys(k.split(".")[0] for k in declared))
    if set(tops) != set(sections):
        raise ConfigError(f"stage {stage!r} reads the sections {sorted(sections)}, but dvc.yaml "
                          f"declares {sorted(tops)}: make the stage's `params` in dvc.yaml and the "
                          f"sections its script loads the same")
    raw = read_params_file(params_file)
    values, problems = {}, []
    for top in tops:
        if top not in raw:
            problems.append(f"  {top}: missing")
            continue
        try:
            values[top] = TypeAdapter(sections[top]).validate_python(raw[top])
        except ValidationError as e:
            problems += _describe(e, str(params_file), prefix=(top,)).splitlines()[1:]
    if problems:
        raise ConfigError("\n".join([f"invalid parameters in {params_file}:", *problems]))
    view = StageParams(stage, values, declared)
    for check in checks:
        try:
            check(view)
        except ValueError as e:
            raise ConfigError(f"invalid parameters in {params_file}: {e}") from None
    return view
