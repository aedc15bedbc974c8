"""Which way imports flow: a module imports only from layers below its own, and no two
modules import each other (directly or round a longer loop).

The layers, bottom up (a module may import from its own top-level package, its own layer
and any lower one; in layers 8 and 10 the packages are rooms apart: ``agents`` and
``envs`` must not import each other, and no command imports another):

0. ``errors``
1. the support modules: ``types``, ``config``, ``extras``, ``threads``, ``spaces``,
   ``metrics``, ``budget_forcing``, ``report``, ``runfiles``, ``schedule``, ``prompts``,
   ``info``
2. ``cli`` (the command-line parser), ``episodes``
3. ``grading``, ``lm``
4. ``data``, ``commitment``
5. ``prover`` (the meta-prover μ)
6. ``registration``, then 7. the package itself (``mrt_env/__init__``: registers the ids)
8. ``envs`` and ``agents``
9. ``strategy``: the strategy env, which plays an agent on an env, so it may import both;
   nothing below imports it.
10. the commands and trainers: ``training``, ``bench``, ``regret``, ``pretrain``; nothing
    imports them but the integrations.
11. ``integrations``: MRT's credit inside other engines' trainers (TRL, verl); it may import
    ``training``, and nothing imports it.

An import inside a function counts too: it is a dependency all the same, only a lazy one.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "mrt_env"

LAYERS: dict[str, int] = {
    "errors": 0,
    **dict.fromkeys(
        (
            "types",
            "config",
            "extras",
            "threads",
            "spaces",
            "metrics",
            "budget_forcing",
            "report",
            "runfiles",
            "schedule",
            "prompts",
            "info",
        ),
        1,
    ),
    "cli": 2,
    "episodes": 2,
    "grading": 3,
    "lm": 3,
    "data": 4,
    "commitment": 4,
    "prover": 5,
    "registration": 6,
    "__init__": 7,
    "envs": 8,
    "agents": 8,
    "strategy": 9,
    **dict.fromkeys(("training", "bench", "regret", "pretrain", "assets"), 10),
    "integrations": 11,
}

APART = {8, 10}
"""Layers whose packages must not import each other."""

# Known breaks, each with the change that removes it.
KNOWN: set[tuple[str, str]] = set()
KNOWN_CYCLES: set[str] = set()


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _group(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path) -> set[str]:
    """The mrt_env modules ``path`` imports, anywhere in it (``from a.b import c`` names
    ``a.b``, or ``a.b.c`` where that is a module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if not node.module.startswith("mrt_env"):
                continue
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if _is_module(sub) else node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("mrt_env")}
    return found


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_top_level_module_has_a_layer():
    groups = {_group(_module(p)) for p in _sources()}
    assert groups - set(LAYERS) == set(), "add the new module to LAYERS"


def test_imports_flow_down_the_layers():
    found = defaultdict(set)
    for path in _sources():
        here = _group(_module(path))
        for target in _imports(path):
            there = _group(target)
            if there == here:
                continue
            upward = LAYERS[there] > LAYERS[here]
            if upward or (LAYERS[there] == LAYERS[here] and LAYERS[here] in APART):
                found[(here, there)].add(f"{path.relative_to(ROOT)} imports {target}")
    unknown = {pair: sorted(where) for pair, where in found.items() if pair not in KNOWN}
    assert unknown == {}
    # A known break that is gone must leave the list, so the list stays true.
    assert set(found) >= KNOWN, f"no longer broken, remove from KNOWN: {KNOWN - set(found)}"


def test_no_import_cycles_between_modules():
    # Lazy imports count: two modules that need each other are one idea in two files.
    graph = {_module(p): _imports(p) for p in _sources()}
    cycles = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph or nxt == node:
                continue
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*path[path.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert set(cycles) - KNOWN_CYCLES == set()
    assert set(cycles) >= KNOWN_CYCLES, "a known cycle is gone: remove it from KNOWN_CYCLES"
