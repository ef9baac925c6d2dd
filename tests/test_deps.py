"""Every DVC stage's deps cover the project files its script imports, so that an edit to any of
them makes ``dvc repro`` rerun the stage (and nothing else: the lists are generated, not hand-kept).

If these fail after an import changed, regenerate the deps: ``.venv/bin/python tools/deps.py``.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import yaml

from tools.deps import code_closure, covers, rewrite_deps, uncovered

REPO = Path(__file__).resolve().parents[1]
REGENERATE = "regenerate with `.venv/bin/python tools/deps.py`"


def test_every_stage_depends_on_what_it_imports():
    problems = uncovered(REPO)
    assert not problems, f"{REGENERATE}:\n" + "\n".join(problems)


def test_code_deps_are_exactly_the_import_closure():
    # Tight lists: a dep on a file the stage does not import would rerun it for nothing.
    text = (REPO / "dvc.yaml").read_text()
    assert rewrite_deps(text, REPO) == text, f"dvc.yaml code deps are stale; {REGENERATE}"


def test_a_folder_dep_covers_what_lies_below_it():
    assert covers("src/climemu/core", "src/climemu/core/io.py")
    assert covers("src/climemu/core/", "src/climemu/core/io.py")
    assert covers("src/climemu/core/io.py", "src/climemu/core/io.py")
    assert not covers("src/climemu/core", "src/climemu/config.py")
    assert not covers("src/climemu/co", "src/climemu/core/io.py")


def fake_repo(root: Path, deps: list[str]) -> None:
    """A stage script -> pkg.a (in a function) -> pkg.b (relative) -> pkg.sub.c (TYPE_CHECKING)."""
    files = {
        "stages/run.py": "def main():\n    from pkg.a import f\n",
        "src/pkg/__init__.py": "",
        "src/pkg/a.py": "from .b import g\nf = g\n",
        "src/pkg/b.py": ("from typing import TYPE_CHECKING\n"
                         "if TYPE_CHECKING:\n    from pkg.sub import c\ng = 1\n"),
        "src/pkg/sub/__init__.py": "",
        "src/pkg/sub/c.py": "",
        "src/pkg/unused.py": "",
        "dvc.yaml": textwrap.dedent("""\
            stages:
              run:
                cmd: python stages/run.py
                deps:
            """) + "".join(f"      - {d}\n" for d in deps) + "    outs:\n      - out.txt\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_closure_follows_function_relative_and_type_checking_imports(tmp_path):
    fake_repo(tmp_path, [])
    found = code_closure(tmp_path / "stages/run.py", tmp_path)
    assert {p.relative_to(tmp_path).as_posix() for p in found} == {
        "stages/run.py", "src/pkg/__init__.py", "src/pkg/a.py", "src/pkg/b.py",
        "src/pkg/sub/__init__.py", "src/pkg/sub/c.py"}
    assert found[tmp_path / "src/pkg/sub/c.py"] == tmp_path / "src/pkg/b.py"


def test_checker_names_the_stage_and_the_missing_file(tmp_path):
    fake_repo(tmp_path, ["stages/run.py", "src/pkg/a.py", "src/pkg/sub", "data/in.nc"])
    assert uncovered(tmp_path) == [
        "stage 'run': src/pkg/__init__.py (imported by stages/run.py) is not in its deps",
        "stage 'run': src/pkg/b.py (imported by src/pkg/a.py) is not in its deps"]


def test_generator_rewrites_code_deps_only(tmp_path):
    fake_repo(tmp_path, ["stages/run.py", "src/pkg/unused.py", "data/in.nc"])
    text = rewrite_deps((tmp_path / "dvc.yaml").read_text(), tmp_path)
    (tmp_path / "dvc.yaml").write_text(text)
    assert uncovered(tmp_path) == []
    assert "unused.py" not in text
    assert text.endswith("      - src/pkg/sub/c.py\n      - data/in.nc\n    outs:\n      - out.txt\n")
    assert rewrite_deps(text, tmp_path) == text


# What an edit reruns: DVC reruns a stage when one of its deps changes, and the code deps are the
# import closure (checked above), so these name the stages an edit to each file invalidates.
def _invalidated(path: str) -> set[str]:
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    return {name for name, spec in stages.items()
            if any(covers(d if isinstance(d, str) else next(iter(d)), path) for d in spec.get("deps", []))}


DATA_STAGES = {"fetch", "smooth", "window", "identify", "band"}


def test_an_attribution_method_edit_reruns_no_data_training_or_skill_stage():
    assert not _invalidated("src/climemu/attribution/methods.py") & (DATA_STAGES | {"train", "evaluate"})


def test_a_report_edit_reruns_only_the_report():
    assert _invalidated("src/climemu/report/config.py") == {"report"}
    assert _invalidated("src/climemu/report/findings.py") == {"report"}


def test_a_network_edit_reruns_no_data_stage():
    assert not _invalidated("src/climemu/models/densenet.py") & DATA_STAGES
    assert {"train", "explain", "evaluate"} <= _invalidated("src/climemu/models/densenet.py")


def test_fetch_imports_no_torch():
    # Reading the params and writing the data must not load the network's libraries.
    code = ("import runpy, sys; sys.path.insert(0, 'stages'); "
            "runpy.run_path('stages/fetch.py', run_name='imported'); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'captum')))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
