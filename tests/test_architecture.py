"""The structure docs/design.md promises: imports flow demo -> explain -> diffclip and training -> diffclip,
no import cycle among modules (function-level imports included), no module over 400 lines, and
explain/ and demo/ never compare attention variant names."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("diffclip", "explain", "training", "demo")
#: package -> the project packages it may import
ALLOWED = {"diffclip": set(), "explain": {"diffclip"}, "training": {"diffclip"}, "demo": {"explain", "diffclip"}}


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    out["app"] = ROOT / "app.py"
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Project modules imported anywhere in ``path`` (module level or inside functions)."""
    is_pkg = path.name == "__init__.py"
    here = name.split(".") if is_pkg else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = here[: len(here) - node.level + 1] if node.level else []
            mod = ".".join([*base, *(node.module.split(".") if node.module else [])])
            targets = [mod] + [f"{mod}.{a.name}" for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in modules:
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


def test_layering_and_no_cycles():
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    for name, deps in graph.items():
        pkg = name.split(".")[0]
        if pkg in ALLOWED:
            climbing = {d for d in deps if d.split(".")[0] not in ALLOWED[pkg] | {pkg}}
            assert not climbing, f"{name} imports {sorted(climbing)} against the layering"
    # a cycle among modules, ignoring a package's __init__ re-exporting its own submodules
    state: dict[str, int] = {}

    def visit(node, stack):
        state[node] = 1
        for dep in graph[node]:
            if dep.startswith(node + "."):
                continue
            if state.get(dep) == 1:
                cycle = stack[stack.index(dep):] + [dep]
                if not all(b.startswith(a + ".") for a, b in zip(cycle, cycle[1:], strict=False)):
                    pytest.fail("import cycle: " + " -> ".join(cycle))
            elif dep not in state:
                visit(dep, stack + [dep])
        state[node] = 2

    for name in graph:
        if name not in state:
            visit(name, [name])


def test_no_module_over_400_lines():
    long = {name: n for name, path in _modules().items()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > 400}
    assert not long, long


def test_explain_and_demo_never_compare_variant_names():
    from diffclip.attention import ATTENTION_VARIANTS

    names = "|".join(map(re.escape, ATTENTION_VARIANTS))
    pattern = re.compile(rf"""(==|!=|\bin\b)\s*\(?["']({names})["']|["']({names})["']\s*(==|!=)|attention\s*(==|!=)""")
    hits = []
    for pkg in ("explain", "demo"):
        for path in (ROOT / pkg).rglob("*.py"):
            for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if pattern.search(line):
                    hits.append(f"{path.relative_to(ROOT)}:{i}: {line.strip()}")
    assert not hits, "\n".join(hits)
