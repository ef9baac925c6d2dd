"""The whole of ``params.yaml`` as one typed, strict model.

One section per stage, named like the stage (``data`` for fetch, ``smooth``, ``window``, ``model``
and ``train``, ...), plus the top-level ``lead`` and ``seed``. Each section is defined in the layer
that uses it; this module assembles them and checks what spans sections (a cell inside the box).

The stages do not import this module: each loads only the sections its ``dvc.yaml`` stage
declares (:func:`climemu.core.params.load_stage_params`), so an edit to one section's code reruns
only the stages that read it. ``python -m climemu.config`` checks the whole file at once.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, model_validator

from climemu.attribution.config import (AblateConfig, BandConfig, BasinConfig, CellSpec, ExplainConfig,
                                        FaithfulnessConfig, SanityConfig, ScoreConfig, ablate_box_in_data_box,
                                        cells_in_data_box, instance_sample_in_split, sanity_cell_named)
from climemu.core.config import Box, ConfigError, Strict, _describe
from climemu.core.params import LEAD, PARAMS_FILE, SEED, read_params_file
from climemu.data.config import DataConfig, EsgfConfig, PangeoConfig, SmoothConfig, WindowConfig
from climemu.forecast.config import EvaluateConfig, figure_sample_in_split
from climemu.models.config import ModelConfig
from climemu.report.config import ControlsConfig, ReportConfig
from climemu.training.config import TrainConfig
from climemu.truth.config import IdentifyConfig, SyntheticConfig, identify_cell_in_data_box

__all__ = ["AblateConfig", "BandConfig", "BasinConfig", "Box", "CellSpec", "ConfigError", "DataConfig", "EsgfConfig",
           "EvaluateConfig", "ExplainConfig", "FaithfulnessConfig", "IdentifyConfig", "ModelConfig", "PangeoConfig", "Params",
           "ReportConfig", "SanityConfig", "ScoreConfig", "SmoothConfig", "SyntheticConfig", "TrainConfig", "WindowConfig",
           "load_params", "parse_params"]

# What spans sections, each check defined beside the section it constrains; a stage that
# declares both sides runs the same check on its own view.
CHECKS = (cells_in_data_box, identify_cell_in_data_box, ablate_box_in_data_box, figure_sample_in_split,
          sanity_cell_named, instance_sample_in_split)


class ExperimentConfig(Strict):
    """A run of the whole pipeline with some values of this file replaced (``dvc exp run -S``):
    ``set`` maps dotted keys (``faithfulness.max_samples``) to their values. The tool that runs
    it (``tools/judges.py``) names the section; :func:`parse_params` checks that the file with the
    values replaced is valid too, so a typo fails here, not an hour into the run."""

    set: dict[str, Any] = Field(min_length=1)


class StudyConfig(Strict):
    """``make study`` (tools/study.py): every lead x arm x seed, each a run of the pipeline with
    values replaced: ``set`` in all, ``by_lead[lead]`` at one lead, the arm's own, then the lead
    and the seed. The report (``climemu.report.study``) gives each number over seeds with a
    ``interval`` t interval and finding 2's ratio a bootstrap of ``bootstrap`` draws."""

    leads: list[LEAD] = Field(min_length=1)
    arms: dict[str, dict[str, Any]] = Field(min_length=1)
    seeds: list[int] = Field(min_length=1)
    set: dict[str, Any]
    by_lead: dict[int, dict[str, Any]]
    stages: list[str]                  # what each experiment runs (with its inputs); [] every stage
    interval: float = Field(gt=0, lt=1)
    bootstrap: int = Field(ge=100)

    def overrides(self) -> list[dict[str, Any]]:
        """The values each distinct (lead, arm) replaces (the seed aside)."""
        return [{**self.set, **self.by_lead.get(lead, {}), **values, "lead": lead}
                for lead in self.leads for values in self.arms.values()]


def with_overrides(raw: dict, overrides: dict[str, Any]) -> dict:
    """A copy of the raw params with each dotted key of ``overrides`` replaced (the key must exist)."""
    out = copy.deepcopy(raw)
    for key, value in overrides.items():
        node = out
        *parents, last = key.split(".")
        for part in parents:
            if not isinstance(node, dict) or part not in node:
                raise ValueError(f"{key}: no such key in params.yaml")
            node = node[part]
        if not isinstance(node, dict) or last not in node:
            raise ValueError(f"{key}: no such key in params.yaml")
        node[last] = copy.deepcopy(value)
    return out


class Params(Strict):
    """Every value lives in ``params.yaml``: no field has a default, so a missing key is an error."""

    lead: LEAD
    seed: SEED
    data: DataConfig
    identify: IdentifyConfig
    smooth: SmoothConfig
    window: WindowConfig
    model: ModelConfig
    train: TrainConfig
    explain: ExplainConfig
    basin: BasinConfig
    ablate: AblateConfig
    evaluate: EvaluateConfig
    score: ScoreConfig
    band: BandConfig
    sanity: SanityConfig
    faithfulness: FaithfulnessConfig
    report: ReportConfig
    judges: ExperimentConfig     # tools/judges.py: every method at the samples the judges need
    study: StudyConfig           # make study: leads x arms x seeds
    controls: ControlsConfig     # make controls: each finding planted and absent, end to end

    @model_validator(mode="after")
    def _across_sections(self) -> "Params":
        for check in CHECKS:
            check(self)
        return self


def parse_params(raw: dict, source: str = PARAMS_FILE) -> Params:
    try:
        return Params.model_validate(raw or {})
    except ValidationError as e:
        raise ConfigError(_describe(e, source)) from None


def check_experiments(raw: dict, params: Params, source: str = PARAMS_FILE) -> None:
    """The judges', every study arm's and every controls setting's overrides give a valid file too (checked on the whole file
    only: a test's modified params need not suit the experiments' values)."""
    runs = [("judges.set", params.judges.set)] + [("study", o) for o in params.study.overrides()]
    runs += [(f"controls.settings.{s}", o) for s, _, r, o in params.controls.experiments() if r == 0]
    for name, overrides in runs:
        try:
            Params.model_validate(with_overrides(raw, overrides))
        except ValueError as e:    # pydantic's ValidationError is a ValueError
            detail = _describe(e, source) if isinstance(e, ValidationError) else str(e)
            raise ConfigError(f"{source}: {name} gives an invalid file: {detail}") from None



def load_params(path: str | Path = PARAMS_FILE) -> Params:
    """The whole file, validated (tests, tools); a stage loads only its own sections."""
    raw = read_params_file(path)
    params = parse_params(raw, str(path))
    check_experiments(raw, params, str(path))
    return params


if __name__ == "__main__":
    try:
        load_params(sys.argv[1] if len(sys.argv) > 1 else PARAMS_FILE)
    except ConfigError as e:
        sys.exit(f"error: {e}")
    print("params.yaml: every section valid")
