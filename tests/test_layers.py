"""The layers hold: read statically from every module's source, never by importing it.

- `bot` (the core) never imports `adapters`, `kmb` (the composition root) or a platform SDK;
- `bot.scheduling` never imports features, the hand-off or the desk (features register what
  the planner renders); `bot.content` never imports features; `adapters` never imports `kmb`;
- no import sits inside a function (that is how a cycle hides); `if TYPE_CHECKING:` at module
  level is fine;
- the modules of `bot` import one another without a cycle.

`importlib.import_module("…")` with a literal name counts as an import. A failure names the
file and line, the import and the rule it breaks.
"""

from __future__ import annotations

import ast
import itertools
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.messages import (
    Actions,
    Button,
    Choice,
    Facts,
    Form,
    Input,
    Reply,
    Section,
    Text,
    reply_from_dict,
    reply_to_dict,
)

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "adapters", "kmb")
SDKS = ("slack_bolt", "slack_sdk", "botbuilder", "botframework", "microsoft_agents")


@dataclass(frozen=True)
class Rule:
    """Modules under `importer` never import modules under any of `forbidden`."""

    importer: str
    forbidden: tuple[str, ...]
    why: str


RULES = (
    Rule("bot", ("adapters", "kmb", *SDKS), "the core never imports adapters, kmb or an SDK"),
    Rule(
        "bot.scheduling",
        ("bot.features", "bot.handoff", "bot.desk"),
        "scheduling never imports features, the hand-off or the desk (features register "
        "what the planner renders)",
    ),
    Rule("bot.content", ("bot.features",), "content never imports features"),
    Rule("adapters", ("kmb",), "adapters never import the composition root"),
)

# (importer, imported): a breach allowed for now, with its reason. Empty since the outbox
# became a core package; an entry that is no longer needed fails.
ALLOWED: Mapping[tuple[str, str], str] = {}

# Files owned by other branches of issue 14 (frontdoor, modules) that still import inside
# functions; each is fixed there, and the integrator empties this after the merge. An entry
# whose file has none left fails, so the list only shrinks.
PENDING_FUNCTION_IMPORTS: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Import:
    """One import statement (or `importlib.import_module` call) in a module."""

    module: str  # the importer, e.g. bot.scheduling.planner
    path: Path
    line: int
    targets: tuple[str, ...]  # what it names: `from a import b` names a and a.b
    where: str  # "module", "function" or "type-checking"

    def at(self, root: Path) -> str:
        return f"{self.path.relative_to(root)}:{self.line}"


def modules(root: Path, packages: Sequence[str]) -> dict[str, Path]:
    """Every module of `packages` under `root`, by dotted name."""
    found = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _names_an_import(func: ast.expr) -> bool:
    """`importlib.import_module`, `import_module` or `__import__`."""
    if isinstance(func, ast.Attribute):
        return func.attr == "import_module"
    return isinstance(func, ast.Name) and func.id in ("import_module", "__import__")


def _resolve(module: str, is_package: bool, level: int, name: str | None) -> str:
    """`from ..x import y` in `module`: the absolute name of `..x`."""
    if level == 0:
        return name or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, name] if name else base)


def imports(module: str, path: Path) -> Iterator[Import]:
    """Every import in a module's source, and where it sits."""
    tree = ast.parse(path.read_text(), str(path))
    is_package = path.name == "__init__.py"

    def visit(node: ast.AST, where: str) -> Iterator[Import]:
        if isinstance(node, ast.Import):
            yield Import(module, path, node.lineno, tuple(a.name for a in node.names), where)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, is_package, node.level, node.module)
            named = tuple(f"{base}.{a.name}" for a in node.names if a.name != "*")
            yield Import(module, path, node.lineno, (base, *named), where)
        elif (
            isinstance(node, ast.Call)
            and _names_an_import(node.func)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield Import(module, path, node.lineno, (node.args[0].value,), where)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            where = "function"
        if isinstance(node, ast.If) and where == "module" and _is_type_checking(node.test):
            for child in node.body:
                yield from visit(child, "type-checking")
            for child in node.orelse:
                yield from visit(child, where)
            return
        for child in ast.iter_child_nodes(node):
            yield from visit(child, where)

    yield from visit(tree, "module")


def _under(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def layer_breaches(
    found: Iterable[Import],
    rules: Iterable[Rule],
    allowed: Mapping[tuple[str, str], str],
    root: Path,
) -> list[str]:
    """Each import that breaks a layer rule, as `file:line: what (rule)`."""
    rules = tuple(rules)
    breaches = []
    for imp in found:
        for rule in rules:
            if not _under(imp.module, rule.importer):
                continue
            for target in imp.targets:
                bad = next((f for f in rule.forbidden if _under(target, f)), None)
                if bad is None or any(imp.module == a and _under(target, b) for a, b in allowed):
                    continue
                breaches.append(f"{imp.at(root)}: {imp.module} imports {target} ({rule.why})")
                break
    return breaches


def function_imports(found: Iterable[Import], root: Path) -> list[str]:
    """Each import inside a function body, as `file:line: what`."""
    return [
        f"{imp.at(root)}: {imp.module} imports {imp.targets[0]} inside a function "
        "(imports go at module level; fix the cycle it dodges)"
        for imp in found
        if imp.where == "function"
    ]


def graph(found: Iterable[Import], known: Iterable[str]) -> dict[str, dict[str, Import]]:
    """Module -> the modules of `known` it imports at load time (not for type checking only)."""
    known = set(known)
    edges: dict[str, dict[str, Import]] = {m: {} for m in known}
    for imp in found:
        if imp.where != "module" or imp.module not in known:
            continue
        base, *named = imp.targets
        # `from a import b`: a.b when b is a module, else a (whose __init__ runs)
        hits = [t for t in named if t in known] or ([base] if base in known else [])
        # Loading a.b.c first runs a/__init__ and a/b/__init__, unless they are the importer's
        # own packages (already running by then): a cycle can hide in a package's __init__.
        mine = set(_packages_of(imp.module))
        hits += [p for t in hits for p in _packages_of(t) if p in known and p not in mine]
        for target in hits:
            if target != imp.module:
                edges[imp.module].setdefault(target, imp)
    return edges


def _packages_of(module: str) -> list[str]:
    """`a.b.c` -> [`a`, `a.b`]."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def cycles(edges: Mapping[str, Mapping[str, Import]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, {}):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            connect(v)
    return found


def cycle_report(edges: Mapping[str, Mapping[str, Import]], root: Path) -> list[str]:
    """Each import cycle, with the file and line of every import in it."""
    report = []
    for component in cycles(edges):
        members = set(component)
        start = component[0]
        path, seen = [start], {start}
        while path[-1] != start or len(path) == 1:
            nexts = sorted(w for w in edges[path[-1]] if w in members)
            step = start if start in nexts else next((w for w in nexts if w not in seen), None)
            if step is None:  # a dead end inside the component: step back
                path.pop()
                continue
            seen.add(step)
            path.append(step)
        steps = [f"  {edges[a][b].at(root)}: {a} imports {b}" for a, b in itertools.pairwise(path)]
        report.append(f"import cycle among {', '.join(component)}:\n" + "\n".join(steps))
    return report


# --- the project itself ------------------------------------------------------------------

MODULES = modules(ROOT, PACKAGES)
IMPORTS = [imp for name, path in MODULES.items() for imp in imports(name, path)]


def test_the_layers_hold() -> None:
    breaches = layer_breaches(IMPORTS, RULES, ALLOWED, ROOT)
    assert not breaches, "\n".join(breaches)


def test_no_import_inside_a_function() -> None:
    def pending(imp: Import) -> bool:
        return imp.path.relative_to(ROOT).as_posix() in PENDING_FUNCTION_IMPORTS

    found = function_imports([imp for imp in IMPORTS if not pending(imp)], ROOT)
    assert not found, "\n".join(found)
    left = {i.path.relative_to(ROOT).as_posix() for i in IMPORTS if i.where == "function"}
    stale = sorted(PENDING_FUNCTION_IMPORTS - left)
    assert not stale, f"no import inside a function left: remove from PENDING: {stale}"


def test_the_core_has_no_import_cycle() -> None:
    core = [m for m in MODULES if _under(m, "bot")]
    report = cycle_report(graph(IMPORTS, core), ROOT)
    assert not report, "\n".join(report)


def test_the_allowances_are_still_needed() -> None:
    used = {
        (imp.module, a[1])
        for imp in IMPORTS
        for a in ALLOWED
        if imp.module == a[0] and any(_under(t, a[1]) for t in imp.targets)
    }
    assert set(ALLOWED) <= used, f"remove from ALLOWED: {sorted(set(ALLOWED) - used)}"


# --- the checker catches what it is for ---------------------------------------------------


def _plant(root: Path, files: Mapping[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_the_checker_catches_planted_breaches(tmp_path: Path) -> None:
    _plant(
        tmp_path,
        {
            "core/__init__.py": "",
            "core/a.py": "from core import b\n",
            "core/b.py": "from . import c\n",
            "core/c.py": "import core.a\n",
            "core/lazy.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from core import a\n"
                "def f():\n    from core import b\n    return b\n"
            ),
            "core/sneaky.py": "import importlib\nimportlib.import_module('edge.slack')\n",
            "edge/__init__.py": "",
            "edge/slack.py": "import core.a\n",
        },
    )
    found = [
        imp
        for name, path in modules(tmp_path, ("core", "edge")).items()
        for imp in imports(name, path)
    ]
    rules = [Rule("core", ("edge",), "core never imports edge")]
    assert layer_breaches(found, rules, {}, tmp_path) == [
        "core/sneaky.py:2: core.sneaky imports edge.slack (core never imports edge)"
    ]
    assert layer_breaches(found, rules, {("core.sneaky", "edge"): "planted"}, tmp_path) == []
    assert function_imports(found, tmp_path) == [
        "core/lazy.py:5: core.lazy imports core inside a function "
        "(imports go at module level; fix the cycle it dodges)"
    ]
    edges = graph(found, ["core", "core.a", "core.b", "core.c", "core.lazy", "core.sneaky"])
    assert "core.a" not in edges["core.lazy"]  # TYPE_CHECKING only: not a load-time edge
    assert "core.b" not in edges["core.lazy"]  # in a function: reported above, not here
    assert cycle_report(edges, tmp_path) == [
        "import cycle among core.a, core.b, core.c:\n"
        "  core/a.py:1: core.a imports core.b\n"
        "  core/b.py:1: core.b imports core.c\n"
        "  core/c.py:1: core.c imports core.a"
    ]


def test_a_cycle_through_a_package_init_is_caught(tmp_path: Path) -> None:
    """Importing `core.sub.e` runs `core/sub/__init__.py` first, which imports `core.d` back."""
    _plant(
        tmp_path,
        {
            "core/__init__.py": "",
            "core/d.py": "from core.sub.e import thing\n",
            "core/sub/__init__.py": "from core import d\n",
            "core/sub/e.py": "thing = 1\n",
            "core/sub/f.py": "from core.sub import e\n",  # its own package: no edge back
        },
    )
    known = modules(tmp_path, ("core",))
    found = [imp for name, path in known.items() for imp in imports(name, path)]
    assert cycle_report(graph(found, known), tmp_path) == [
        "import cycle among core.d, core.sub:\n"
        "  core/d.py:1: core.d imports core.sub\n"
        "  core/sub/__init__.py:1: core.sub imports core.d"
    ]


@pytest.mark.parametrize("source", ["import x.y", "from . import y", "from .y import z"])
def test_relative_and_dotted_imports_resolve(tmp_path: Path, source: str) -> None:
    _plant(tmp_path, {"x/__init__.py": source + "\n", "x/y.py": ""})
    (imp,) = imports("x", tmp_path / "x/__init__.py")
    assert any(t == "x.y" or t.startswith("x.y.") for t in imp.targets)


# --- the core's own language (from the former test_core_imports.py) -----------------------


def test_every_element_round_trips_through_json() -> None:
    reply = Reply(
        (
            Text("t"),
            Facts((("a", "b"),)),
            Actions((Button("B", "help", "primary"),)),
            Section("S", (Text("x"),)),
            Form("f", "F", (Input("i", "I", "choice", choices=(Choice("c", "v"),)),)),
        ),
        summary="s",
    )
    assert reply_from_dict(reply_to_dict(reply)) == reply
    assert "[B: type `help`]" in reply.to_text()


def test_loading_the_core_loads_no_adapter_and_no_sdk() -> None:
    """What the static reading says, seen in a fresh interpreter: the server, the worker and
    the engine's building load neither `adapters`, `kmb` nor an SDK."""
    outside = ("adapters", "kmb", *SDKS)
    probe = (
        "import sys, bot.app, bot.server, bot.worker, bot.testing.fixtures\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {outside!r}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "[]", out.stdout
