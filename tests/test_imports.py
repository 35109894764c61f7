"""The package's boundaries, read from its source: private names stay private, the plotting layer reads results
only, nothing reads outside the package, module names never shadow public functions, internals stay unexported."""

import ast
import importlib
import inspect
from pathlib import Path

import landscape as ls

PACKAGE = Path(ls.__file__).parent
# What the plotting layer may import: results, the package's small utilities, itself, and drawing libraries.
PLOT_MAY_IMPORT = ("landscape.results", "landscape._files", "landscape._checks", "landscape.plot")
PLOT_THIRD_PARTY = {"matplotlib", "mpl_toolkits", "numpy", "PIL", "plotly"}


def modules():
    """``{dotted name: parsed source}`` of every module of the package."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = ast.parse(path.read_text(), filename=str(path))
    return found


MODULES = modules()


def is_module(name: str) -> bool:
    return name in MODULES


def imports(tree):
    """``(module, imported name or None, line)`` for every import statement."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                yield node.module, alias.name, node.lineno


def test_no_module_imports_another_modules_private_names():
    offences = []
    for name, tree in MODULES.items():
        bound = {}  # local names bound to landscape modules
        for module, imported, line in imports(tree):
            if not module.startswith("landscape"):
                continue
            if imported is None:
                continue
            target = f"{module}.{imported}"
            if is_module(target):
                bound[imported] = target
            elif imported.startswith("_") and not imported.startswith("__"):
                offences.append(f"{name}:{line} imports {imported} from {module}")
        for node in ast.walk(tree):  # module._private through a bound module name
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in bound
                    and node.attr.startswith("_") and not node.attr.startswith("__")):
                offences.append(f"{name}:{node.lineno} uses {bound[node.value.id]}.{node.attr}")
    assert not offences, offences


def test_plot_imports_results_only():
    offences = []
    for name, tree in MODULES.items():
        if not name.startswith("landscape.plot"):
            continue
        for module, imported, line in imports(tree):
            full = f"{module}.{imported}" if imported and is_module(f"{module}.{imported}") else module
            if full.startswith("landscape"):
                if not full.startswith(PLOT_MAY_IMPORT):
                    offences.append(f"{name}:{line} imports {full}")
            elif full.split(".")[0] not in PLOT_THIRD_PARTY | {"__future__", "typing", "os", "pathlib", "shutil",
                                                                "subprocess", "tempfile", "importlib", "itertools",
                                                                "base64", "html", "json"}:
                offences.append(f"{name}:{line} imports {full}")
    assert not offences, offences


def test_the_package_never_reads_outside_itself():
    offences = [f"{name}:{node.lineno}" for name, tree in MODULES.items() for node in ast.walk(tree)
                if isinstance(node, ast.Name) and node.id == "__file__"]
    assert not offences, f"modules locating files by __file__: {offences}"


def test_no_module_shares_its_name_with_a_public_function():
    module_names = {name.rsplit(".", 1)[-1] for name in MODULES}
    public = set()
    for name in MODULES:
        if name.endswith("__main__"):
            continue
        module = importlib.import_module(name)
        for attr in getattr(module, "__all__", ()):
            value = getattr(module, attr)
            if callable(value) and not inspect.ismodule(value):
                public.add(attr)
    assert module_names.isdisjoint(public), sorted(module_names & public)


def test_internals_are_not_exported_at_top_level():
    for name in ls.__all__:
        value = getattr(ls, name)
        if inspect.ismodule(value):
            assert name in ("directions", "losses", "optim", "problems"), name
        elif name != "__version__":
            assert not name.startswith("_") and not value.__module__.split(".")[1].startswith("_"), name
    for internal in ("io", "data", "devices", "release_host_memory", "describe", "sweep_module"):
        assert internal not in ls.__all__
    assert callable(ls.sweep) and inspect.ismodule(importlib.import_module("landscape.sweeps"))
