"""No import cycles, lazy imports inside functions included. Which layer may import which is `.importlinter`'s
contract, checked by `lint-imports` in `make test`."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def _module(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """module -> the voxage modules it imports anywhere in its code, lazily inside functions too
    (`from voxage.a import b` may name a module b)."""
    modules = {_module(p): p for p in (SRC / "voxage").rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges = set()
        tree = ast.parse(path.read_text())
        typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
                       and getattr(block.test, "id", "") == "TYPE_CHECKING" for n in ast.walk(block)}
        for node in ast.walk(tree):
            if id(node) in typing_only:  # annotations only, never imported at run time
                continue
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("voxage"):
                targets = [f"{node.module}.{a.name}" for a in node.names]
                edges |= {t for t in targets if t in modules} or {node.module}
            elif isinstance(node, ast.Import):
                edges |= {a.name for a in node.names if a.name.startswith("voxage.")}
        graph[name] = {e for e in edges if e in modules and e != name and e != "voxage"}
    return graph


def test_no_import_cycles():
    graph = import_graph()
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1  # on the current path
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join(path[path.index(nxt):] + [nxt]))
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2  # done

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])

