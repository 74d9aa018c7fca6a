"""The import graph: no cycles, and the layers import one way (read from the source, function-local imports included)."""

import ast
import importlib
import importlib.util
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SOURCE / "isoflop"
# Consumers of plain run records must not reach into training.
RECORD_CONSUMERS = ("isoflop.results", "isoflop.report", "isoflop.fit")
TRAINING_SIDE = ("isoflop.engines.base", "isoflop.engines.reference", "isoflop.engines.batched", "isoflop.execution",
                 "isoflop.studies")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SOURCE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in known else base)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return {target for target in found if target in known and target != name}


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports_of(name, path, set(known)) for name, path in known.items()}


# Modules of an optional extra, and the package the extra installs (pip install 'isoflop[lightning]').
OPTIONAL = {"isoflop.recipes.lightning": "lightning"}


def test_every_module_imports():
    for name in modules():
        if name == "isoflop.__main__":  # running it would run the CLI
            continue
        if name in OPTIONAL and importlib.util.find_spec(OPTIONAL[name]) is None:
            with pytest.raises(ModuleNotFoundError, match=OPTIONAL[name]):  # only its own extra is missing
                importlib.import_module(name)
            continue
        importlib.import_module(name)


def test_there_is_no_import_cycle():
    edges = graph()
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for target in sorted(edges[node]):
            if state.get(target) == 1:
                cycle = trail[trail.index(target):] + [target] if target in trail else [node, target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target, trail + [target])
        state[node] = 2

    for start in sorted(edges):
        if start not in state:
            visit(start, [start])


def test_record_consumers_import_nothing_from_engines_execution_or_studies():
    for name, targets in graph().items():
        if name.startswith(RECORD_CONSUMERS):
            bad = [t for t in targets if t.startswith(TRAINING_SIDE)]
            assert not bad, f"{name} imports {bad}"


def test_config_imports_nothing_from_engines_and_fit_and_report_nothing_from_training():
    # config declares the engines (config.engines) so that the two packages do not depend on each other.
    forbidden = {"isoflop.config": ("isoflop.engines", "isoflop.fit"),
                 "isoflop.fit": ("isoflop.engines", "isoflop.execution", "isoflop.studies", "isoflop.training"),
                 "isoflop.report": ("isoflop.engines", "isoflop.execution", "isoflop.studies", "isoflop.training")}
    for name, targets in graph().items():
        for package, banned in forbidden.items():
            if name == package or name.startswith(package + "."):
                bad = [t for t in targets if t.startswith(banned)]
                assert not bad, f"{name} imports {bad}"


def test_a_dry_run_of_every_study_writes_nothing_and_imports_no_torch():
    import subprocess
    import sys
    import tempfile

    code = ("import sys; from isoflop.cli import main\n"
            "for kind in ('scarcity', 'isoflops', 'vocab'):\n"
            "    main([kind, '--dry-run', '--output', sys.argv[1] + '/' + kind])\n"
            "assert 'torch' not in sys.modules, 'torch was imported'")
    with tempfile.TemporaryDirectory() as folder:
        done = subprocess.run([sys.executable, "-c", code, folder], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert "21 run(s) planned, 0 stored, 21 to train" in done.stdout
        assert "20 run(s) planned, 0 stored, 20 to train: 24,543 optimizer steps" in done.stdout
        assert done.stdout.count("dry run of the isoflops study in") == 4  # the isoFLOP study and 3 vocabulary arms
        assert not list(Path(folder).iterdir())


def test_no_two_packages_import_each_other():
    def package(name: str) -> str:
        return name.split(".")[1] if name.count(".") else name

    arrows = {(package(a), package(b)) for a, targets in graph().items() for b in targets if package(a) != package(b)}
    assert not sorted((a, b) for a, b in arrows if (b, a) in arrows and a < b)
