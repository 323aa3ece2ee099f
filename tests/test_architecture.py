"""The import graph of ``shopper_assets`` (docs/architecture.md): no cycle, imports point down the layers,
nothing heavy or environment-dependent runs at import, and the code location builds lazily."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "shopper_assets"

#: The layers, lowest first: a module may import its own layer and those before it. Layers of one
#: tuple entry (transform and serving; cli, demo and stream) may import each other (test 1 forbids cycles).
LAYERS: list[tuple[str, ...]] = [
    ("contract", "sql_text"),
    ("settings", "dagster_fixes", "run_health", "fork_launcher"),  # all but settings: Dagster plumbing
    ("partitions", "inputs"),  # the partitions of the settings; the CLI's checks of user input
    ("generator",),
    ("storage",),
    ("ingestion",),
    ("quality",),
    ("lake",),
    ("transform", "serving"),
    ("automation",),
    ("operations",),
    ("deployments",),
    ("definitions",),
    ("fork_server",),  # run workers forked from the loaded code location (the local run launcher's)
    ("cli", "demo", "stream"),
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}

#: Upward imports allowed, with their reason: (importing module, imported module) -> reason.
UPWARD_ALLOWED: dict[tuple[str, str], str] = {}

#: Function-level project imports allowed outside cli.py, with their measured reason: prod-only clients that
#: a local process never needs. Every run process loads the code location; importing them at the top costs it
#: psycopg 0.21 s and boto3 0.07 s (``python -X importtime -c "import shopper_assets.definitions"``, 12-03).
PROD_ONLY = "psycopg and boto3: +0.3 s per local process"
LAZY_ALLOWED: dict[tuple[str, str], str] = {
    ("shopper_assets.deployments", "shopper_assets.ingestion.s3.landing_zone"): PROD_ONLY,
    ("shopper_assets.deployments", "shopper_assets.storage.s3_lake"): PROD_ONLY,
    ("shopper_assets.automation.s3_sensor", "shopper_assets.ingestion.s3.drops"): PROD_ONLY,
    ("shopper_assets.automation.s3_sensor", "shopper_assets.storage.s3_client"): PROD_ONLY,
    ("shopper_assets.serving.reader", "shopper_assets.storage.postgres_warehouse"): PROD_ONLY,
    ("shopper_assets.serving.store", "shopper_assets.serving.postgres"): PROD_ONLY,
    ("shopper_assets.serving.store", "shopper_assets.storage.postgres_warehouse"): PROD_ONLY,
}


def _modules() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


MODULES = _modules()


def _targets(node: ast.Import | ast.ImportFrom, module: str) -> set[str]:
    """The project modules an import statement imports (``from pkg import submodule`` names the submodule)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:  # relative import
            package = module.split(".") if MODULES[module].name == "__init__.py" else module.split(".")[:-1]
            base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
        names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
    return {n for n in names if n == "shopper_assets" or n.startswith("shopper_assets.")}


def _module_level(tree: ast.Module):
    """Statements that run at import: the module body, and the bodies of its top-level if/try/with blocks."""
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If | ast.Try | ast.With):
            for field in ("body", "orelse", "finalbody", "handlers"):
                stack.extend(getattr(node, field, []))
        elif isinstance(node, ast.ExceptHandler):
            stack.extend(node.body)


def _trees() -> dict[str, ast.Module]:
    return {name: ast.parse(path.read_text(), str(path)) for name, path in MODULES.items()}


TREES = _trees()


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports when it is imported (module-level imports only)."""
    graph = {}
    for name, tree in TREES.items():
        nodes = [n for n in _module_level(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
        graph[name] = {t for n in nodes for t in _targets(n, name)} - {name, "shopper_assets"}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
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

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def layer(module: str) -> str:
    """The package (or top-level module) of a module: its layer."""
    return module.split(".")[1] if module != "shopper_assets" else module


def test_cycles_are_found():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle():
    assert cycles(import_graph()) == []


def test_no_package_cycle():
    """Nor between packages: a cycle of modules across two packages is one refactor away."""
    packages: dict[str, set[str]] = {}
    for module, targets in import_graph().items():
        packages.setdefault(layer(module), set()).update(
            layer(t) for t in targets if layer(t) != layer(module) and (module, t) not in UPWARD_ALLOWED
        )
    assert cycles(packages) == []


def test_every_module_has_a_layer():
    assert {layer(m) for m in MODULES if m != "shopper_assets"} <= set(RANK)


def test_imports_point_down_the_layers():
    upward = [
        f"{module} imports {target} ({layer(module)} is below {layer(target)})"
        for module, targets in sorted(import_graph().items())
        if module != "shopper_assets"
        for target in sorted(targets)
        if RANK[layer(target)] > RANK[layer(module)] and (module, target) not in UPWARD_ALLOWED
    ]
    assert upward == []


def test_no_settings_read_at_import():
    """``Settings.from_env()`` only inside functions: the code location reads it when it is built."""
    found = []
    for name, tree in TREES.items():
        for statement in _module_level(tree):
            if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                continue
            for node in ast.walk(statement):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "from_env"
                    and isinstance(node.func.value, ast.Name)
                    and node.func.value.id == "Settings"
                ):
                    found.append(f"{name}:{node.lineno}")
    assert found == []


def test_project_imports_at_the_top_outside_the_cli():
    """An import inside a function hides a dependency (or a cycle); cli.py keeps ``shopper --help`` fast."""
    found = []
    for name, tree in TREES.items():
        if name == "shopper_assets.cli":
            continue
        top = set(_module_level(tree))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom) and node not in top:
                found += [
                    f"{name}:{node.lineno} imports {t}" for t in _targets(node, name) if (name, t) not in LAZY_ALLOWED
                ]
    assert found == []


def _python(code: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True, timeout=timeout
    )


def test_import_is_light_and_building_reads_the_settings(tmp_path):
    """With a bogus SHOPPER_ENV, importing the code location runs no dbt (no process that is not
    Python's own ``file`` probe of dagster's vendored croniter) and reads no setting; building its
    definitions then fails with the settings' error."""
    env = {**os.environ, "SHOPPER_ENV": "bogus", "SHOPPER_DATA_DIR": str(tmp_path)}
    result = _python(
        """
        import subprocess, time
        started = []
        popen = subprocess.Popen.__init__
        def spy(self, args, *rest, **kwargs):
            started.append(args)
            return popen(self, args, *rest, **kwargs)
        subprocess.Popen.__init__ = spy
        began = time.monotonic()
        import shopper_assets.definitions as location
        print(f"imported in {time.monotonic() - began:.1f} s")
        print("started:", [a for a in started if "file" not in a])
        try:
            location.defs()
        except ValueError as exc:
            print("building:", exc)
        """,
        env,
    )
    assert result.returncode == 0, result.stderr
    assert "started: []" in result.stdout
    assert "building: SHOPPER_ENV must be 'local' or 'prod', not 'bogus'" in result.stdout


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.endswith("_assets") or m.endswith(".assets")))
def test_asset_modules_define_no_assets_at_import(module):
    """Asset modules define factories (the definitions call them with the settings), not assets."""
    tree = TREES[module]
    decorated = [
        n.name
        for n in _module_level(tree)
        if isinstance(n, ast.FunctionDef)
        and any(
            (d.func if isinstance(d, ast.Call) else d).id in {"asset", "multi_asset", "dbt_assets"}
            for d in n.decorator_list
            if isinstance(d.func if isinstance(d, ast.Call) else d, ast.Name)
        )
    ]
    assert decorated == []


#: Libraries no run of the code location needs when it loads: the prod-only clients (imported where used,
#: see LAZY_ALLOWED) and the read side's web stack (the API and the dashboard run as their own processes).
#: Every run worker, the daemon and the code server load the code location: each of these would be paid by
#: every run's start (bench/bench_run_start.py prints what the load imports and costs).
NOT_AT_LOAD = ("boto3", "botocore", "psycopg", "fastapi", "uvicorn", "streamlit", "plotly")


def test_loading_the_code_location_imports_no_prod_client_nor_web_stack(tmp_path):
    """Importing the code location and building its definitions (what a run worker does before its first
    step) leaves the libraries of ``NOT_AT_LOAD`` unimported."""
    env = {**os.environ, "SHOPPER_ENV": "local", "SHOPPER_DATA_DIR": str(tmp_path)}
    result = _python(
        f"""
        import sys
        import shopper_assets.definitions as location
        location.defs()
        print("imported:", sorted(name for name in {NOT_AT_LOAD!r} if name in sys.modules))
        """,
        env,
    )
    assert result.returncode == 0, result.stderr
    assert "imported: []" in result.stdout
