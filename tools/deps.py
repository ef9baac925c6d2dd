"""The project's import graph, read statically, and the code deps of each DVC stage built from it.

``dvc repro`` reruns a stage only when one of its ``deps`` changes, so a stage's deps must list every
project file its script imports, directly or through other modules, including the ``__init__.py`` of
each package on the way (Python runs those first). This module reads the imports with ``ast``
(nothing is executed): ``import a.b``, ``from a import b`` (also relative), imports inside functions
and under ``if TYPE_CHECKING``. ``tests/test_deps.py`` (every stage's deps cover its import closure)
and ``tests/test_layers.py`` (no upward import between layers, no cycle) use the same graph.

A developer's tool, not part of the library (no stage runs it). Rerun it after changing what a
stage script or a module of ``src/climemu`` imports:

    .venv/bin/python tools/deps.py            # rewrite the code entries of dvc.yaml's deps
    .venv/bin/python tools/deps.py --check    # exit 1, naming the stages, if they are stale

It rewrites only the code entries (``stages/*.py``, ``src/...``) of each ``deps:`` list, in place,
and keeps every other line of dvc.yaml (data deps, outs, params, comments) as it is.
"""

from __future__ import annotations

import argparse
import ast
import re
import shlex
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from climemu.core.paths import DVC_FILE, dvc_stages

PACKAGE = "climemu"
# Lowest first: a module may import from its own layer or a lower one. ``config`` is the top
# module ``climemu/config.py`` that assembles every layer's config section into ``Params``; the
# package root ``climemu/__init__.py`` sits below them all and imports nothing of the project.
LAYERS = ("core", "truth", "data", "models", "training", "forecast", "attribution", "report", "config")
# Scripts that use the library; the library never imports them.
SCRIPTS = ("stages", "benchmarks", "tests", "tools")
# Where dvc.yaml's code deps live; any other dep (data, model, metrics) is left alone.
CODE_PREFIXES = ("src/", "stages/")


def find_modules(root: Path) -> dict[str, Path]:
    """Module name -> file for every ``.py`` below ``root`` (a package is its ``__init__.py``)."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts:
            modules[".".join(parts)] = path
    return modules


# Each stage builds its graph over the whole src tree: parse every file once per process.
@lru_cache(maxsize=None)
def imported_names(path: Path, module: str) -> tuple[tuple[str, bool, int], ...]:
    """(name, certain, line) for each import in ``path``; ``certain`` is False for the ``b`` of
    ``from a import b``, a submodule only if such a module exists (else a name inside ``a``)."""
    is_package = path.name == "__init__.py"
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [(alias.name, True, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                # Relative to the module's package (a package's own __init__ is its package).
                package = module.split(".") if is_package else module.split(".")[:-1]
                anchor = package[:len(package) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            names.append((base, True, node.lineno))
            names += [(f"{base}.{alias.name}".lstrip("."), False, node.lineno)
                      for alias in node.names if alias.name != "*"]
    return tuple(names)


@dataclass
class ImportGraph:
    """Module -> {imported project module: first line}, over the modules given.

    Importing ``a.b.c`` runs ``a``, ``a.b`` and ``a.b.c``: each one is an edge."""

    modules: dict[str, Path]
    edges: dict[str, dict[str, int]] = field(default_factory=dict)
    # (module, imported name, line) of every import, project or not: for the scripts rule.
    raw: list[tuple[str, str, int]] = field(default_factory=list)
    unresolved: list[tuple[str, str, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        tops = {name.split(".")[0] for name in self.modules}
        for module, path in self.modules.items():
            targets = self.edges.setdefault(module, {})
            for name, certain, line in imported_names(path, module):
                if certain:
                    self.raw.append((module, name, line))
                if name.split(".")[0] not in tops:
                    continue
                if certain and name not in self.modules:
                    self.unresolved.append((module, name, line))
                parts = name.split(".")
                for k in range(1, len(parts) + 1):
                    target = ".".join(parts[:k])
                    if target in self.modules and target != module:
                        targets.setdefault(target, line)

    def closure(self, start: str) -> dict[str, str | None]:
        """Every module ``start`` runs, each with the module that first imports it (breadth first)."""
        seen: dict[str, str | None] = {start: None}
        todo = [start]
        while todo:
            module = todo.pop(0)
            for target in self.edges[module]:
                if target not in seen:
                    seen[target] = module
                    todo.append(target)
        return seen

    def cycles(self) -> list[list[str]]:
        """Strongly connected components of more than one module (Tarjan), each sorted."""
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        stack: list[str] = []
        on_stack: set[str] = set()
        found = []

        def visit(module: str) -> None:
            index[module] = low[module] = len(index)
            stack.append(module)
            on_stack.add(module)
            for target in self.edges[module]:
                if target not in index:
                    visit(target)
                    low[module] = min(low[module], low[target])
                elif target in on_stack:
                    low[module] = min(low[module], index[target])
            if low[module] == index[module]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == module:
                        break
                if len(component) > 1:
                    found.append(sorted(component))

        for module in sorted(self.edges):
            if module not in index:
                visit(module)
        return sorted(found)


def layer_rank(module: str, package: str = PACKAGE, layers: tuple[str, ...] = LAYERS) -> int | None:
    """Position of ``module``'s layer; -1 for the package root; None outside every layer."""
    parts = module.split(".")
    if parts == [package]:
        return -1
    if parts[0] == package and parts[1] in layers:
        return layers.index(parts[1])
    return None


def layer_violations(graph: ImportGraph, package: str = PACKAGE, layers: tuple[str, ...] = LAYERS,
                     scripts: tuple[str, ...] = SCRIPTS) -> list[str]:
    """One line per rule broken: a module outside every layer, an import from a higher layer,
    an import of a script folder, an import of a project module that does not exist."""
    problems = []
    for module in sorted(graph.edges):
        path = graph.modules[module]
        rank = layer_rank(module, package, layers)
        if rank is None:
            problems.append(f"{path}: {module} is in no layer of {layers}")
            continue
        for target, line in graph.edges[module].items():
            target_rank = layer_rank(target, package, layers)
            if target_rank is not None and target_rank > rank:
                problems.append(f"{path}:{line}: {module} imports {target}, a higher layer "
                                f"({layers[target_rank]} above {layers[rank] if rank >= 0 else package})")
    problems += [f"{graph.modules[m]}:{line}: {m} imports the script folder {name.split('.')[0]!r}"
                 for m, name, line in graph.raw if name.split(".")[0] in scripts]
    problems += [f"{graph.modules[m]}:{line}: {m} imports {name}, which does not exist"
                 for m, name, line in graph.unresolved]
    return problems


def stage_scripts(cmd: str | list[str], repo: Path) -> list[Path]:
    """The Python files a stage command runs: ``python stages/x.py`` or ``python -m pkg.mod``."""
    scripts = []
    for line in [cmd] if isinstance(cmd, str) else cmd:
        words = shlex.split(line)
        for i, word in enumerate(words):
            if word.endswith(".py") and (repo / word).is_file():
                scripts.append(repo / word)
            elif word == "-m" and i + 1 < len(words):
                found = find_modules(repo / "src").get(words[i + 1])
                scripts += [found] if found else []
    return scripts


def code_closure(script: Path, repo: Path) -> dict[Path, Path | None]:
    """Every project file ``script`` runs, each with the file that first imports it.

    The script's own folder is first on ``sys.path`` when run as ``python stages/x.py``, so its
    sibling files are modules too; the library is the ``src`` layout."""
    modules = {**find_modules(repo / "src"), **find_modules(script.parent)}
    start = next(name for name, path in modules.items() if path == script)
    found = ImportGraph(modules).closure(start)
    return {modules[m]: (modules[by] if by else None) for m, by in found.items()}


def load_stages(repo: Path) -> dict[str, dict]:
    """Stage name -> definition from ``repo``'s dvc.yaml."""
    return dvc_stages(repo / DVC_FILE)


def code_deps(spec: dict, repo: Path) -> list[str]:
    """The code deps a stage needs: its scripts, then every project file they import, sorted."""
    scripts = stage_scripts(spec["cmd"], repo)
    files = {path for script in scripts for path in code_closure(script, repo)} - set(scripts)
    return [p.relative_to(repo).as_posix() for p in scripts] + \
        sorted(p.relative_to(repo).as_posix() for p in files)


def covers(dep: str, path: str) -> bool:
    """A dep covers a file it names or any file below a folder it names."""
    dep = dep.strip().removeprefix("./").rstrip("/")
    return path == dep or path.startswith(dep + "/")


def uncovered(repo: Path) -> list[str]:
    """One line per project file a stage imports that its deps do not cover."""
    problems = []
    for name, spec in load_stages(repo).items():
        deps = [d if isinstance(d, str) else next(iter(d)) for d in spec.get("deps", [])]
        for script in stage_scripts(spec["cmd"], repo):
            for path, by in code_closure(script, repo).items():
                rel = path.relative_to(repo).as_posix()
                if not any(covers(d, rel) for d in deps):
                    via = f" (imported by {by.relative_to(repo).as_posix()})" if by else ""
                    problems.append(f"stage {name!r}: {rel}{via} is not in its deps")
    return problems


_STAGE = re.compile(r"^  (\S[^:]*):\s*$")
_DEPS = re.compile(r"^(\s+)deps:\s*$")
_ITEM = re.compile(r"^(\s+)-\s+(\S.*?)\s*$")


def rewrite_deps(text: str, repo: Path) -> str:
    """dvc.yaml with the code entries of each stage's deps replaced by ``code_deps``."""
    stages = load_stages(repo)
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    stage, in_stages, i = None, False, 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.startswith((" ", "\n", "#")):
            in_stages = line.startswith("stages:")
        elif in_stages and _STAGE.match(line):
            stage = _STAGE.match(line).group(1)
        deps = _DEPS.match(line)
        if not (in_stages and deps and stage in stages):
            out.append(line)
            continue
        out.append(line)
        items = []
        while i < len(lines) and (item := _ITEM.match(lines[i])) and len(item.group(1)) > len(deps.group(1)):
            items.append((item.group(1), item.group(2)))
            i += 1
        indent = items[0][0] if items else deps.group(1) + "  "
        kept = [value for _, value in items if not value.startswith(CODE_PREFIXES)]
        out += [f"{indent}- {value}\n" for value in code_deps(stages[stage], repo) + kept]
    return "".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale deps; exit 1 if any")
    parser.add_argument("--repo", type=Path, default=Path.cwd(), help="repository root (default: here)")
    args = parser.parse_args(argv)
    dvc_yaml = args.repo / DVC_FILE
    old = dvc_yaml.read_text()
    new = rewrite_deps(old, args.repo.resolve())
    if old == new:
        print("dvc.yaml: code deps up to date")
        return 0
    if args.check:
        print("dvc.yaml: code deps are stale; run `python tools/deps.py`", file=sys.stderr)
        return 1
    dvc_yaml.write_text(new)
    print("dvc.yaml: code deps rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
