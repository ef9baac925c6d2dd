"""The package's layers hold: no import from a higher layer, none of the scripts, no cycle.

The layer order lives in ``tools/deps.py`` (``LAYERS``) (lowest first); the graph is read
statically, so a function-level or ``TYPE_CHECKING`` import counts like a top-level one.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

from tools.deps import LAYERS, ImportGraph, find_modules, layer_violations

SRC = Path(__file__).resolve().parents[1] / "src"


def library_graph() -> ImportGraph:
    return ImportGraph(find_modules(SRC))


def test_library_imports_only_its_own_layer_or_lower():
    problems = layer_violations(library_graph())
    assert not problems, "layering broken:\n" + "\n".join(problems)


def test_library_has_no_import_cycle():
    cycles = library_graph().cycles()
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_package_inits_import_nothing():
    # An __init__ runs whenever any module below it is imported: imports there would make every
    # stage that touches the package depend on (and load) the whole package.
    heavy = [str(path.relative_to(SRC)) for path in sorted(SRC.rglob("__init__.py"))
             if any(isinstance(node, (ast.Import, ast.ImportFrom))
                    for node in ast.walk(ast.parse(path.read_text())))]
    assert not heavy, f"package __init__ files with imports: {heavy}"


def test_every_subpackage_is_a_layer():
    packages = {p.parent.name for p in (SRC / "climemu").glob("*/__init__.py")}
    assert packages == set(LAYERS) - {"config"}


def write_package(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def test_checker_catches_upward_imports_scripts_and_cycles(tmp_path):
    # A tiny fake package: low < high < config, with one of each fault the checker must find.
    write_package(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/config.py": "from pkg.high import fine\n",
        "pkg/low/__init__.py": "",
        "pkg/low/up.py": "def f():\n    from pkg.high import fine\n",          # upward, in a function
        "pkg/low/script.py": ("from typing import TYPE_CHECKING\n"
                              "if TYPE_CHECKING:\n    import stages.fetch\n"),  # a script folder
        "pkg/low/typo.py": "import pkg.low.missing\n",                            # no such module
        "pkg/high/__init__.py": "from pkg.high.loop_a import x\n",               # cycle via __init__
        "pkg/high/fine.py": "from pkg.low import typo\n",
        "pkg/high/loop_a.py": "from . import loop_b\nx = 1\n",                   # relative import
        "pkg/high/loop_b.py": "from pkg.high.fine import up\n",
    })
    graph = ImportGraph(find_modules(tmp_path))
    problems = layer_violations(graph, package="pkg", layers=("low", "high", "config"))
    expected = ["up.py:2: pkg.low.up imports pkg.high, a higher layer",
                "up.py:2: pkg.low.up imports pkg.high.fine, a higher layer",
                "script.py:3: pkg.low.script imports the script folder 'stages'",
                "typo.py:1: pkg.low.typo imports pkg.low.missing, which does not exist"]
    assert len(problems) == len(expected), problems
    for fragment in expected:
        assert any(fragment in line for line in problems), (fragment, problems)
    assert graph.cycles() == [["pkg.high", "pkg.high.loop_a", "pkg.high.loop_b"]]


def test_checker_passes_a_clean_package(tmp_path):
    write_package(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/low/__init__.py": "",
        "pkg/low/a.py": "import math\n",
        "pkg/high/__init__.py": "",
        "pkg/high/b.py": "from ..low import a\nfrom pkg.low.a import math\n",
    })
    graph = ImportGraph(find_modules(tmp_path))
    assert layer_violations(graph, package="pkg", layers=("low", "high")) == []
    assert graph.cycles() == []
    assert set(graph.edges["pkg.high.b"]) == {"pkg", "pkg.low", "pkg.low.a"}
