"""A stage's view of the params: only the keys its dvc.yaml stage declares, validated."""

from __future__ import annotations

import textwrap

import pytest
import yaml

from climemu.core.config import ConfigError, Strict
from climemu.core.params import LEAD, SEED, UndeclaredParam, load_stage_params


class Inner(Strict):
    a: int
    b: list[int]


class Section(Strict):
    inner: Inner
    c: float


def write(tmp_path, params: dict, declared: list[str]):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    (tmp_path / "dvc.yaml").write_text(textwrap.dedent("""\
        stages:
          run:
            cmd: python stages/run.py
            params:
        """) + "".join(f"      - {k}\n" for k in declared))
    return {"params_file": tmp_path / "params.yaml", "dvc_file": tmp_path / "dvc.yaml"}


PARAMS = {"lead": 3, "seed": 7, "sec": {"inner": {"a": 1, "b": [2, 3]}, "c": 0.5}}


def test_declared_keys_are_read_and_undeclared_ones_refused(tmp_path):
    files = write(tmp_path, PARAMS, ["lead", "sec.inner.a"])
    p = load_stage_params("run", lead=LEAD, sec=Section, **files)
    assert p.lead == 3 and p.sec.inner.a == 1
    with pytest.raises(UndeclaredParam, match=r"stage 'run' read params key 'sec.inner.b'.*add 'sec.inner.b'"):
        p.sec.inner.b
    with pytest.raises(UndeclaredParam, match="'sec.c'"):
        p.sec.c
    assert p.declares("sec.inner.a") and not p.declares("sec.inner")


def test_a_declared_section_is_its_validated_model(tmp_path):
    files = write(tmp_path, PARAMS, ["seed", "sec"])
    p = load_stage_params("run", seed=SEED, sec=Section, **files)
    assert isinstance(p.sec, Section) and p.sec.inner.b == [2, 3] and p.seed == 7


def test_the_script_and_dvc_yaml_must_name_the_same_sections(tmp_path):
    files = write(tmp_path, PARAMS, ["lead", "sec.c"])
    with pytest.raises(ConfigError, match=r"reads the sections \['lead'\], but dvc.yaml declares \['lead', 'sec'\]"):
        load_stage_params("run", lead=LEAD, **files)


def test_errors_name_the_full_key(tmp_path):
    bad = {**PARAMS, "lead": 40, "sec": {"inner": {"a": "x", "b": []}, "c": 0.5, "typo": 1}}
    files = write(tmp_path, bad, ["lead", "sec"])
    with pytest.raises(ConfigError) as err:
        load_stage_params("run", lead=LEAD, sec=Section, **files)
    msg = str(err.value)
    assert "lead: Input should be less than or equal to 36 (got 40)" in msg
    assert "sec.inner.a: Input should be a valid integer" in msg and "sec.typo: unknown key" in msg


def test_a_missing_section_is_named(tmp_path):
    files = write(tmp_path, {"lead": 1}, ["lead", "sec"])
    with pytest.raises(ConfigError, match="sec: missing"):
        load_stage_params("run", lead=LEAD, sec=Section, **files)


def test_checks_run_on_the_view_and_say_what_is_wrong(tmp_path):
    files = write(tmp_path, PARAMS, ["lead", "sec.c"])

    def lead_below_c(p):
        if p.lead > p.sec.c:
            raise ValueError(f"lead ({p.lead}) must not exceed sec.c ({p.sec.c})")

    with pytest.raises(ConfigError, match=r"lead \(3\) must not exceed sec.c \(0.5\)"):
        load_stage_params("run", lead=LEAD, sec=Section, checks=(lead_below_c,), **files)


def test_every_stage_loads_exactly_its_declared_sections():
    # The stage scripts name their sections in load_stage_params(...); each call must match the
    # stage's params in dvc.yaml (load_stage_params refuses otherwise, but only when the stage runs).
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    for name, spec in stages.items():
        tree = ast.parse((root / "stages" / f"{name}.py").read_text())
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)
                 and getattr(n.func, "id", None) == "load_stage_params"]
        assert len(calls) == 1, f"stages/{name}.py: one load_stage_params call expected"
        call = calls[0]
        assert call.args[0].value == name, f"stages/{name}.py loads the params of {call.args[0].value!r}"
        loaded = {k.arg for k in call.keywords} - {"checks"}
        declared = {k.split(".")[0] for k in spec.get("params", [])}
        assert loaded == declared, f"stages/{name}.py loads {sorted(loaded)}, dvc.yaml declares {sorted(declared)}"
