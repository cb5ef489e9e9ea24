"""The shape of the code (../shared/ARCHITECTURE.md): apps import one way, and no import of
another app hides inside a function to dodge a cycle. import-linter checks the layers themselves
(scripts/test runs it); this checks what it cannot see."""
import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APPS = sorted(p.parent.name for p in ROOT.glob("*/apps.py"))


def _sources(app: str):
    for path in sorted((ROOT / app).rglob("*.py")):
        if "migrations" not in path.parts:
            yield path


def test_the_project_has_the_apps_of_the_architecture():
    assert {"core", "customers", "intake", "webhooks", "analytics", "campaigns"} <= set(APPS)


def test_no_function_imports_another_app():
    hidden = []
    for app in APPS:
        for path in _sources(app):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for function in ast.walk(tree):
                if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    continue
                for node in ast.walk(function):
                    if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                        modules = [node.module]
                    elif isinstance(node, ast.Import):
                        modules = [alias.name for alias in node.names]
                    else:
                        continue
                    for module in modules:
                        top = module.split(".")[0]
                        if top in APPS and top != app:
                            hidden.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {module}")
    assert not hidden, "\n".join(hidden)


def test_import_contracts_hold():
    """The same check as scripts/test, so a plain pytest run catches a new cycle too."""
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


# The house style splits a module past a few hundred lines by concern; past this it must be.
MAX_MODULE_LINES = 600
# Generated-data code that reads best as one piece: the demo generator's one long recipe.
EXEMPT = {"customers/demo/generator.py"}


def test_no_module_is_over_the_size_limit():
    long = []
    for app in APPS:
        for path in _sources(app):
            name = str(path.relative_to(ROOT))
            lines = path.read_text(encoding="utf-8").count("\n")
            if lines > MAX_MODULE_LINES and name not in EXEMPT:
                long.append(f"{name}: {lines} lines")
    assert not long, "\n".join(long)
