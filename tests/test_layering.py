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


COMMON = "rl_algos/common"
SELF_CONTAINED = ("replay", "losses")  # import nothing else from rl_algos.common


def common_imports(subpackage: str) -> dict[str, set[str]]:
    """The `rl_algos.common` modules each file of `rl_algos/common/<subpackage>` imports."""
    return {
        f: {m for m in mods if m.startswith("rl_algos.common")}
        for f, mods in imports_under(f"{COMMON}/{subpackage}").items()
    }


@pytest.mark.parametrize("subpackage", SELF_CONTAINED)
def test_replay_and_losses_stand_alone_in_common(subpackage):
    own = f"rl_algos.common.{subpackage}"
    offending = {f: sorted(m for m in mods if not m.startswith(own)) for f, mods in common_imports(subpackage).items()}
    assert not {f: m for f, m in offending.items() if m}


def test_training_loops_never_import_evaluation():
    offending = {
        f: sorted(m for m in mods if m.startswith("rl_algos.common.evaluation"))
        for f, mods in common_imports("loops").items()
    }
    assert not {f: m for f, m in offending.items() if m}, "the loops must run without the evaluation code"


def test_common_imports_no_algorithm_and_nothing_above_it():
    algorithms = {p.name for p in (ROOT / "rl_algos").iterdir() if (p / "__init__.py").exists() and p.name != "common"}
    offending = {
        f: sorted(
            m for m in mods if m.split(".")[0] in UPPER[1:] or m.split(".")[:2] in [["rl_algos", a] for a in algorithms]
        )
        for f, mods in imports_under(COMMON).items()
    }
    assert not {f: m for f, m in offending.items() if m}, "shared code may not depend on an algorithm or a script"


def test_common_shows_its_architecture_in_subpackages():
    top_level = sorted(p.name for p in (ROOT / COMMON).glob("*.py"))
    assert len(top_level) <= 8, f"{COMMON} has {len(top_level)} modules at its top level: {top_level}"
