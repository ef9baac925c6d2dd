"""Every output path has one home, core/paths.yaml: climemu.core.paths and dvc.yaml agree."""

import re

import yaml
from dvc.repo import Repo

from climemu.core import paths
from tests.helpers import ROOT

REF = re.compile(r"^\$\{paths\.(\w+)\}$")
TOOL_REF = re.compile(r"^\$\{tools\.(\w+)\}$")   # make study / make controls' files (paths.yaml `tools`)


def _constants() -> dict[str, str]:
    return {name: value for name, value in vars(paths).items()
            if name.isupper() and isinstance(value, str) and not name.startswith("_")}


def _stage_outputs() -> dict[str, str]:
    """Each output of dvc.yaml's stages (outs, metrics, plots) as DVC resolves it -> its stage."""
    repo = Repo(str(ROOT))
    try:
        return {str(out.def_path): stage.name for stage in repo.index.stages for out in stage.outs}
    finally:
        repo.close()


def test_the_constants_are_the_yaml_file():
    assert {name.lower(): value for name, value in _constants().items()} == paths.OUTPUTS


def test_every_constant_is_a_stage_output_and_every_output_a_constant():
    outputs = _stage_outputs()
    constants = set(_constants().values())
    assert sorted(constants - set(outputs)) == [], "path constants no stage writes"
    assert sorted(set(outputs) - constants) == [], "stage outputs without a path constant"


def test_dvc_yaml_names_no_output_path_itself():
    # outs / metrics / plots and the top-level plots refer to paths.yaml, never repeat a path
    dvc = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    assert "src/climemu/core/paths.yaml" in dvc["vars"]
    refs = []
    for stage in dvc["stages"].values():
        for kind in ("outs", "metrics", "plots"):
            refs += [e if isinstance(e, str) else next(iter(e)) for e in stage.get(kind, [])]
    tools = yaml.safe_load(paths.PATHS_FILE.read_text())["tools"]
    for plot in dvc["plots"]:
        (definition,) = plot.values()
        for r in definition["y"]:
            if TOOL_REF.match(r):           # a tool's file, no stage's output: a key of `tools`
                assert TOOL_REF.match(r).group(1) in tools, r
            else:
                refs.append(r)
    written = [r for r in refs if not REF.match(r)]
    assert written == [], f"write these as ${{paths.<key>}}: {written}"
    unknown = [r for r in refs if REF.match(r).group(1) not in paths.OUTPUTS]
    assert unknown == [], f"not keys of core/paths.yaml: {unknown}"
