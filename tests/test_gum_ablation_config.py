"""The gum ablation grid file names real switches and values that gum's config accepts."""

import itertools
from pathlib import Path

import yaml

import rl_algos

GRID_FILE = Path(__file__).parents[1] / "experiments" / "configs" / "gum_ablation.yaml"


def test_every_cell_of_the_ablation_grid_is_a_valid_gum_config():
    spec = yaml.safe_load(GRID_FILE.read_text())
    assert spec["algos"] == ["gum"]
    grid = spec["grid"]
    assert set(grid) == {"unmix", "regulariser", "regularise_against", "cql_alpha"}
    assert sorted(grid["cql_alpha"]) == [0.0, 1.0]
    cells = list(itertools.product(*grid.values()))
    assert len(cells) == 3 * 3 * 2 * 2
    env_config = {"scenario": spec["scenario"], "n_agents": spec["train_agents"], **spec["scenario_options"]}
    for values in cells:
        rl_algos.get_config("gum").environment("team", env_config=env_config).training(
            **dict(zip(grid, values, strict=True))
        ).validate()


def test_every_cell_of_the_matrix_ablation_is_a_valid_gum_config_on_both_games():
    spec = yaml.safe_load((GRID_FILE.parent / "gum_ablation_matrix.yaml").read_text())
    grid = spec["grid"]
    for game in ({}, {"game": "penalty", "k": -100.0}):
        env_config = {
            "scenario": spec["scenario"],
            "n_agents": spec["train_agents"],
            **spec["scenario_options"],
            **game,
        }
        for values in itertools.product(*grid.values()):
            rl_algos.get_config("gum").environment("team", env_config=env_config).training(
                **dict(zip(grid, values, strict=True))
            ).validate()


def test_every_cell_of_the_spread_ablation_is_a_valid_gum_config_at_its_budget():
    spec = yaml.safe_load((GRID_FILE.parent / "gum_ablation_spread.yaml").read_text())
    assert spec["timesteps"] == 100_000 and len(spec["seeds"]) == 5
    env_config = {"scenario": spec["scenario"], "n_agents": spec["train_agents"], **spec["scenario_options"]}
    for values in itertools.product(*spec["grid"].values()):
        rl_algos.get_config("gum").environment("team", env_config=env_config).training(
            **dict(zip(spec["grid"], values, strict=True))
        ).validate()
