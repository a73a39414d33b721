"""The package's layers: every import, function-level ones included, goes to the same layer or down."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "iqa"

# Lowest first. A module belongs to the longest prefix it starts with.
LAYERS = (
    "iqa.core",
    "iqa.models.registry",
    "iqa.config",
    "iqa.models",
    "iqa.data",
    "iqa.training",
    "iqa.measure",
    "iqa.stats",
    "iqa.study",
    "iqa.results",
    "iqa.cli",
    "iqa",
)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def layer(module: str) -> int:
    matches = [i for i, prefix in enumerate(LAYERS) if module == prefix or module.startswith(prefix + ".")]
    return max(matches, key=lambda i: len(LAYERS[i]))


def imported(module: str) -> set[str]:
    """Modules of this package that `module` imports anywhere in its body (function-level too)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            # `from iqa.x import y`: the module y if it is one, else the module x that defines y
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        for name in names:
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name and name != module:
                found.add(name)
    return found


GRAPH = {m: imported(m) for m in MODULES}


def test_no_module_imports_a_higher_layer():
    upward = [f"{m} -> {d}" for m, deps in GRAPH.items() for d in deps
              if m != "iqa" and layer(d) > layer(m)]
    assert upward == []


def test_no_import_circle():
    done, path, circles = set(), [], []

    def visit(m):
        if m in path:
            circles.append(" -> ".join(path[path.index(m):] + [m]))
            return
        if m in done:
            return
        path.append(m)
        for d in sorted(GRAPH[m]):
            visit(d)
        path.pop()
        done.add(m)

    for m in sorted(GRAPH):
        if m != "iqa":  # the package's __init__ re-exports the API lazily, from above every layer
            visit(m)
    assert circles == []


@pytest.mark.parametrize("shadowed", ["inspect", "numbers", "statistics", "types", "io", "code", "profile"])
def test_no_module_is_named_after_the_standard_library(shadowed):
    assert not [m for m in MODULES if m.rpartition(".")[2] == shadowed]


def test_the_public_api_names_what_it_exports_and_imports_nothing_up_front():
    import subprocess
    import sys

    import iqa

    for name in iqa.__all__:
        assert callable(getattr(iqa, name)), name
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        iqa.nope  # noqa: B018
    loaded = subprocess.run([sys.executable, "-c", "import iqa, sys; print(sorted(m for m in sys.modules "
                             "if m.startswith(('iqa.', 'torch'))))"], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"
