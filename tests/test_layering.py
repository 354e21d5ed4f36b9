"""The package layering stays visible: envs and the torch networks are plain (no RLlib), and neither envs nor
policies reach up into the algorithms or the experiments."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLAIN = ("envs", "policies/networks")  # importable without Ray's RLlib
LOWER = ("envs", "policies")  # never import the layers above them
UPPER = ("rl_algos", "experiments", "benchmarks")


def imported_modules(path: Path) -> set[str]:
    """Every module a Python file imports, at any depth (lazy imports inside functions included)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def imports_under(package: str) -> dict[str, set[str]]:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"no Python files under {package}"
    return {str(path.relative_to(ROOT)): imported_modules(path) for path in files}


@pytest.mark.parametrize("package", PLAIN)
def test_plain_packages_do_not_import_rllib(package):
    offending = {f: sorted(m for m in mods if m.startswith("ray.rllib")) for f, mods in imports_under(package).items()}
    assert not {f: m for f, m in offending.items() if m}, "these files import RLlib; move them beside the RLModules"


@pytest.mark.parametrize("package", LOWER)
def test_envs_and_policies_do_not_import_the_layers_above(package):
    offending = {f: sorted(m for m in mods if m.split(".")[0] in UPPER) for f, mods in imports_under(package).items()}
    assert not {f: m for f, m in offending.items() if m}


def test_importing_envs_and_the_networks_loads_no_rllib():
    modules = [f"policies.networks.{p.stem}" for p in sorted((ROOT / "policies/networks").glob("[a-z]*.py"))]
    code = (
        "import sys, envs, "
        + ", ".join(modules)
        + "; print(sorted(m for m in sys.modules if m.startswith('ray.rllib')))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"
