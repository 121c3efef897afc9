#!/usr/bin/env python3
"""Accord's structure check: `python tools/check_structure.py [--root DIR]` (make lint-structure, CI).

It fails (exit 1, one line per problem) on
  1. an import circle between first-party modules. Function-level imports count like top-level
     ones: they run as soon as the function is called, so hiding an import in a function hides
     the circle without removing it. Exceptions: each app's dispatch seam (DISPATCH below) and
     `if TYPE_CHECKING:` imports, which never run;
  2. an import that breaks the layering (LAYERS and the rules under it), type-only imports included,
     because a type is a dependency too;
  3. a first-party module over MAX_LINES lines.

Standard library only, so it runs before anything is installed. Imports are read with `ast`;
imports by string (`include("judges.urls")`, importlib, Celery autodiscovery) are not seen.
"""

import ast
import sys
from pathlib import Path

# ---- The rules. Change these, not the code below. ----------------------------------------------
# The apps, lowest first: an app may import the apps before it in this list, never those after it.
LAYERS = ["agreement", "config", "accounts", "rubrics", "annotation", "quality", "exports", "judges", "demo"]
# Packages that import no other first-party package: agreement is the pure-numpy engine, config is
# imported by every app and so must not import one back.
SELF_CONTAINED = {"agreement", "config"}
# Third-party packages an app must not import: agreement runs without Django (benchmarks, notebooks).
FORBIDDEN_THIRD_PARTY = {"agreement": {"django", "rest_framework", "drf_spectacular", "celery"}}
# Packages that only the listed packages may import (tests and benchmarks are outside the check).
IMPORTED_ONLY_BY = {"judges": {"judges", "demo"}, "demo": {"demo"}}
# Modules that wire every app together and so may import any app: the URL root, the Celery app.
WIRING = {"config.urls", "config.celery"}
# The dispatch seam: <app>/dispatch.py enqueues Celery tasks and imports <app>.tasks inside its
# functions, because tasks import services and services import dispatch. Those imports are not
# circle edges; any other function-level import is.
DISPATCH, TASKS = "dispatch", "tasks"
# Top-level directories outside the layering: they may import anything and have no size limit.
OUTSIDE = {"tests", "benchmarks", "testbed", "tools", ".venv", "var"}
# Directories skipped at any depth (migrations are generated; tests are tests).
SKIPPED = {"migrations", "__pycache__", "tests"}
MAX_LINES = 400
# -------------------------------------------------------------------------------------------------


def find_modules(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file in a top-level package (or a listed app)."""
    modules = {}
    for top in sorted(root.iterdir()):
        if not top.is_dir() or top.name in OUTSIDE or top.name.startswith("."):
            continue
        if not (top / "__init__.py").exists() and top.name not in LAYERS:
            continue
        for path in sorted(top.rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if SKIPPED.intersection(parts[:-1]):
                continue
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def read_imports(name: str, path: Path, modules: dict[str, Path]) -> list[tuple[str, int, bool, bool]]:
    """(target, line, in_function, type_only) for every import in the file, at any depth.

    The target is the most specific first-party module the import loads (`from a.b import c` is
    a.b.c if that is a module, else a.b), or the name as written when it is not first-party.
    Like import-linter, the parent packages' __init__ modules are not counted as targets.
    """
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]

    def known(dotted: str) -> str:
        parts = dotted.split(".")
        for end in range(len(parts), 0, -1):
            if ".".join(parts[:end]) in modules:
                return ".".join(parts[:end])
        return dotted

    found: list[tuple[str, int, bool, bool]] = []

    def walk(node: ast.AST, in_function: bool, type_only: bool) -> None:
        if isinstance(node, ast.Import):
            found.extend((known(alias.name), node.lineno, in_function, type_only) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: `from ..x import y` in a.b.c -> a.x
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.append((sub if sub in modules else known(base), node.lineno, in_function, type_only))
        elif isinstance(node, ast.If) and is_type_checking(node.test):
            for stmt in node.body:
                walk(stmt, in_function, True)
            for stmt in node.orelse:
                walk(stmt, in_function, type_only)
            return
        in_function = in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        for child in ast.iter_child_nodes(node):
            walk(child, in_function, type_only)

    walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)), False, False)
    return found


def is_dispatch_seam(importer: str, target: str, in_function: bool) -> bool:
    app = importer.split(".")[0]
    tasks = f"{app}.{TASKS}"
    return in_function and importer == f"{app}.{DISPATCH}" and (target == tasks or target.startswith(tasks + "."))


def rule_broken(importer: str, target: str, first_party: set[str]) -> str | None:
    """Why the import importer -> target breaks the layering, or None when it is allowed."""
    src, dst = importer.split(".")[0], target.split(".")[0]
    if src == dst or importer in WIRING:
        return None
    if dst in FORBIDDEN_THIRD_PARTY.get(src, ()):
        return f"{src} imports no {dst}"
    if dst not in first_party:
        return None  # the standard library or a third-party package
    if src in SELF_CONTAINED:
        return f"{src} imports no other first-party package"
    if dst in IMPORTED_ONLY_BY and src not in IMPORTED_ONLY_BY[dst]:
        return f"only {', '.join(sorted(IMPORTED_ONLY_BY[dst]))} may import {dst}"
    for app in (src, dst):
        if app not in LAYERS:
            return f"{app} is not in LAYERS in tools/check_structure.py"
    if LAYERS.index(dst) > LAYERS.index(src):
        return f"upward: {dst} is above {src}"
    return None


def strongly_connected(graph: dict[str, dict[str, tuple[int, bool]]]) -> list[list[str]]:
    """Tarjan's algorithm: the groups of modules that all reach each other (the circles)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while not group or group[-1] != node:
                group.append(stack.pop())
            groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [group for group in groups if len(group) > 1]


def shortest_cycle(start: str, group: list[str], graph: dict[str, dict[str, tuple[int, bool]]]) -> list[str]:
    """Breadth-first from start back to start inside one group: one concrete circle to print."""
    parent: dict[str, str] = {}
    queue = [start]
    for node in queue:
        for nxt in sorted(graph[node]):
            if nxt == start:
                path = [node]
                while path[-1] != start:
                    path.append(parent[path[-1]])
                return [*reversed(path), start]
            if nxt in group and nxt not in parent:
                parent[nxt] = node
                queue.append(nxt)
    raise AssertionError(f"{start} is in a circle but no path leads back to it")


def check(root: Path) -> int:
    modules = find_modules(root)
    first_party = {name.split(".")[0] for name in modules} | set(LAYERS)
    rel = {name: path.relative_to(root).as_posix() for name, path in modules.items()}
    graph: dict[str, dict[str, tuple[int, bool]]] = {name: {} for name in modules}
    circles, rules, sizes = [], [], []

    for name, path in modules.items():
        try:
            imports = read_imports(name, path, modules)
        except SyntaxError as error:
            rules.append(f"{rel[name]}:{error.lineno}: cannot be parsed ({error.msg})")
            continue
        for target, line, in_function, type_only in imports:
            why = rule_broken(name, target, first_party)
            if why:
                rules.append(f"{rel[name]}:{line}: {name.split('.')[0]} imports {target} ({why})")
            # The circle graph: first-party edges that run at some point, minus the dispatch seam.
            runs = not type_only and not is_dispatch_seam(name, target, in_function)
            if runs and target in modules and target != name:
                graph[name].setdefault(target, (line, in_function))
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES:
            sizes.append(f"{rel[name]}: {lines} lines (limit {MAX_LINES})")

    groups = strongly_connected(graph)
    for group in groups:
        cycle = shortest_cycle(group[0], group, graph)
        circles.append(f"circle of {len(group)} modules ({', '.join(group)}): {' -> '.join(cycle)}")
        for step, src in enumerate(cycle[:-1]):
            dst = cycle[step + 1]
            line, in_function = graph[src][dst]
            circles.append(f"    {rel[src]}:{line}: {src} imports {dst}" + (" (in a function)" if in_function else ""))

    counts = (
        f"{len(modules)} modules, {len(groups)} circles, {len(rules)} upward imports, "
        f"{len(sizes)} modules over {MAX_LINES} lines"
    )
    if circles or rules or sizes:
        print("\n".join([*circles, *rules, *sizes]))
        print(f"structure FAILED: {counts}")
        return 1
    print(f"structure ok: {counts}")
    return 0


def main(argv: list[str]) -> int:
    root = Path(__file__).resolve().parent.parent  # the repository: tools/ is at its top
    if argv[:1] == ["--root"] and len(argv) == 2:
        root = Path(argv[1])
    elif argv:
        print("usage: check_structure.py [--root DIR]", file=sys.stderr)
        return 2
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))  # Tarjan recurses once per module
    return check(root)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
