"""The transfer experiment's command line: layering of defaults, config file and flags; bad input rejected before
Ray starts with a one-line error and exit code 2; the cluster YAML valid against Ray's autoscaler schema."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import experiments.transfer_experiment.run as transfer
from experiments.transfer_experiment import experiment_folder, ray_session
from experiments.transfer_experiment.command_line import parse_settings
from experiments.transfer_experiment.run import main
from experiments.transfer_experiment.settings import SMOKE_LEARNING_STARTS
from experiments.transfer_experiment.trial_configs import algo_config, finetune_algo_config, train_config

ROOT = Path(__file__).parents[1]


def _ray_must_not_start(*_):
    raise AssertionError("bad settings must be rejected before Ray starts")


def test_defaults_are_the_documented_small_comparison():
    settings, explicit = parse_settings([])
    assert settings.algos == ["qmix"] and settings.embeddings == ["concat", "graph"]
    assert settings.scenario == "spread" and settings.train_agents == [3] and settings.eval_agents == [3, 6]
    assert settings.seeds == [0] and settings.padded_size == 6
    assert settings.slots == "first" and settings.zero_shot_ids == "reuse"
    assert settings.name.startswith("spread-")
    assert explicit == set()


def test_a_vmas_scenario_runs_64_worlds_per_env_runner_unless_told_otherwise():
    settings, _ = parse_settings(["--scenario", "vmas:navigation", "--scenario-options", '{"max_steps": 50}'])
    assert settings.name.startswith("vmas-navigation-")  # one folder name, no ':'
    config = algo_config(settings, "qmix", "concat", [3], seed=0)
    assert config.num_envs_per_env_runner == 64 and config.env_config["max_steps"] == 50
    told, _ = parse_settings(["--scenario", "vmas:navigation", "--envs-per-runner", "256"])
    assert algo_config(told, "qmix", "concat", [3], seed=0).num_envs_per_env_runner == 256
    spread, _ = parse_settings([])
    assert algo_config(spread, "qmix", "concat", [3], seed=0).num_envs_per_env_runner == 8  # the algorithm's own


def test_on_policy_batches_on_vmas_give_every_world_ten_steps_unless_told_otherwise():
    vmas, _ = parse_settings(["--scenario", "vmas:spread", "--env-runners", "2"])
    # A2C's 100 env steps would be under one step per world of 2 x 64 worlds, MAPPO's 1,000 under eight
    assert algo_config(vmas, "central_v", "concat", [3], seed=0).train_batch_size_per_learner == 10 * 2 * 64
    assert algo_config(vmas, "mappo", "concat", [3], seed=0).train_batch_size_per_learner == 10 * 2 * 64
    big, _ = parse_settings(
        [
            "--scenario",
            "vmas:spread",
            "--algos",
            "mappo",
            "--training",
            '{"mappo": {"train_batch_size_per_learner": 5000}}',
        ]
    )
    assert algo_config(big, "mappo", "concat", [3], seed=0).train_batch_size_per_learner == 5000
    told, _ = parse_settings(
        ["--scenario", "vmas:spread", "--training", '{"iac": {"train_batch_size_per_learner": 64}}']
    )
    assert algo_config(told, "iac", "concat", [3], seed=0).train_batch_size_per_learner == 64
    spread, _ = parse_settings([])
    assert algo_config(spread, "iac", "concat", [3], seed=0).train_batch_size_per_learner == 100  # its own default


def test_value_learners_anneal_over_the_budget_and_discount_at_the_scenario_s_gamma_unless_told_otherwise():
    spread, _ = parse_settings(["--timesteps", "400000"])
    qmix = algo_config(spread, "qmix", "concat", [3], seed=0)
    assert qmix.gamma == 0.95 and qmix.epsilon == [[0, 1.0], [40000, 0.05]]
    assert algo_config(spread, "mappo", "concat", [3], seed=0).gamma == 0.99  # actor-critics keep RLlib's
    vmas, _ = parse_settings(["--scenario", "vmas:spread"])
    assert algo_config(vmas, "qmix", "concat", [3], seed=0).gamma == 0.99  # no measured discount there
    assert algo_config(vmas, "gum", "concat", [3], seed=0).gamma == 0.95  # gum's was measured there
    assert algo_config(spread, "gum", "concat", [3], seed=0).gamma == 0.95
    told, _ = parse_settings(["--training", '{"all": {"gamma": 0.9}, "qmix": {"epsilon": 0.1}}'])
    qmix = algo_config(told, "qmix", "concat", [3], seed=0)
    assert qmix.gamma == 0.9 and qmix.epsilon == 0.1


def test_naive_fine_tuning_explores_as_a_run_of_its_own_budget_and_the_others_resume_the_pre_training_schedule():
    settings, _ = parse_settings(["--timesteps", "1000000", "--finetune-timesteps", "100000"])

    def epsilon(strategy: str, pretrained_env_steps: int = 1_000_000):
        return finetune_algo_config(settings, "qmix", "concat", 6, 0, pretrained_env_steps, strategy).epsilon

    assert epsilon("naive") == [[0, 1.0], [10000, 0.05]]  # a tenth of the 100k fine-tuning, not of the 1M
    assert epsilon("conservative") == epsilon("kl") == 0.05  # pre-training ended past its 100k of annealing
    assert epsilon("conservative", pretrained_env_steps=50_000) == [[0, pytest.approx(0.525)], [50000, 0.05]]


def test_maddpg_discounts_at_0_95_on_spread_and_its_twin_unless_told_otherwise():
    for scenario in ("spread", "vmas:spread"):
        settings, _ = parse_settings(["--scenario", scenario])
        maddpg = algo_config(settings, "maddpg", "graph", [3], seed=0)
        assert maddpg.gamma == 0.95 and not hasattr(maddpg, "epsilon")  # no value learner's schedule
    pursuit, _ = parse_settings(["--scenario", "pursuit"])
    assert algo_config(pursuit, "maddpg", "graph", [3], seed=0).gamma == 0.99
    told, _ = parse_settings(["--training", '{"maddpg": {"gamma": 0.99}}'])
    assert algo_config(told, "maddpg", "graph", [3], seed=0).gamma == 0.99


def test_vdn_takes_munchausen_targets_on_spread_unless_told_otherwise():
    spread, _ = parse_settings([])
    assert algo_config(spread, "vdn", "concat", [3], seed=0).munchausen_params is not None
    assert algo_config(spread, "qmix", "concat", [3], seed=0).munchausen_params is None
    vmas, _ = parse_settings(["--scenario", "vmas:spread"])
    assert algo_config(vmas, "vdn", "concat", [3], seed=0).munchausen_params is None  # not measured there
    told, _ = parse_settings(["--training", '{"vdn": {"munchausen": null}}'])
    assert algo_config(told, "vdn", "concat", [3], seed=0).munchausen_params is None
    tuned, _ = parse_settings(["--training", '{"vdn": {"munchausen": {"alpha": 0.5}}}'])
    assert algo_config(tuned, "vdn", "concat", [3], seed=0).munchausen_params["alpha"] == 0.5


def test_flags_override_the_config_file(tmp_path):
    config = tmp_path / "grid.yaml"
    config.write_text(
        yaml.safe_dump(
            {"algos": "iql,vdn", "eval_agents": [4, 8], "seeds": "0,1,2", "scenario-options": {"max_cycles": 10}}
        )
    )
    settings, explicit = parse_settings(["--config", str(config), "--seeds", "5", "--train-agents", "2,3"])
    assert settings.algos == ["iql", "vdn"] and settings.eval_agents == [4, 8]
    assert settings.seeds == [5], "the flag wins over the file"
    assert settings.train_agents == [2, 3] and settings.train_label == "2-3"
    assert settings.padded_size == 8
    assert settings.env_config([2, 3]) == {
        "scenario": "spread",
        "n_agents": [2, 3],
        "n_max": 8,
        "slots": "first",
        "max_cycles": 10,
    }
    assert {"algos", "eval_agents", "seeds", "scenario_options", "train_agents"} <= explicit


def test_a_config_file_may_give_each_algorithm_its_own_embeddings_and_a_flag_gives_every_one_the_same(tmp_path):
    config = tmp_path / "study.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "algos": ["qmix", "maddpg", "vdn"],
                "embeddings": {"qmix": "concat,mean", "maddpg": ["graph"], "all": ["concat"]},
                "scenario": "vmas:spread",
                "finetune_timesteps": 0,
            }
        )
    )
    settings, _ = parse_settings(["--config", str(config)])
    cells = [("qmix", "concat"), ("qmix", "mean"), ("maddpg", "graph"), ("vdn", "concat")]
    assert settings.cells == cells, "vdn has no entry of its own: it takes all's"
    assert settings.algo_embeddings("qmix") == ["concat", "mean"], "a comma string reads as a list, as at the top"
    settings.seeds = [0, 1]
    assert list(transfer.grid(settings)) == [(*cell, seed) for cell in cells for seed in (0, 1)]
    chunk, _ = parse_settings(["--config", str(config), "--algos", "qmix", "--embeddings", "graph"])
    assert chunk.cells == [("qmix", "graph")], "the flag replaces the mapping"
    only_maddpg, _ = parse_settings(["--config", str(config), "--algos", "maddpg"])
    assert only_maddpg.cells == [("maddpg", "graph")]


@pytest.mark.parametrize(
    "embeddings, message",
    [
        ({"qmx": ["concat"], "all": ["concat"]}, "--embeddings has an entry for 'qmx'; its keys are 'all' or"),
        ({"qmix": ["concat"]}, "--embeddings gives none for vdn: add an entry for it, or one for 'all'"),
        ({"qmix": ["concat", "gnn"], "all": ["concat"]}, "unknown embedding 'gnn' in --embeddings for qmix; known:"),
        ({"qmix": [], "all": ["concat"]}, "--embeddings for qmix is empty; choose from concat"),
        ({"all": ["mean", "mean"]}, "--embeddings for all lists mean more than once"),
        ({"qmix": {"concat": 1}}, "embeddings must be a list of names such as [concat, graph] or concat,graph, or a"),
    ],
)
def test_per_algorithm_embeddings_are_checked_before_ray_starts(embeddings, message, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(transfer, "start_ray", _ray_must_not_start)
    config = tmp_path / "study.yaml"
    config.write_text(yaml.safe_dump({"algos": ["qmix", "vdn"], "embeddings": embeddings}))
    assert main(["--config", str(config), "--storage", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1, error


def test_smoke_sets_a_tiny_budget_that_explicit_flags_still_override():
    settings, _ = parse_settings(["--smoke", "--eval-episodes", "3"])
    assert settings.timesteps <= 2000 and settings.finetune_timesteps <= 1000
    assert settings.eval_episodes == 3


def test_training_options_merge_all_then_the_algorithm_s_own():
    settings, _ = parse_settings(["--training", '{"all": {"lr": 0.001, "n_step": 3}, "qmix": {"n_step": 1}}'])
    assert settings.training_options("qmix") == {"lr": 0.001, "n_step": 1}
    assert settings.training_options("iql") == {"lr": 0.001, "n_step": 3}


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--algos", "qmix,ppo"], "unknown algorithm 'ppo'; known: iql, vdn, qmix"),
        (["--embeddings", "graph,transformer"], "unknown embedding 'transformer'; known: concat, mean, graph"),
        (
            ["--scenario", "smac"],
            "unknown scenario 'smac'; known scenarios: matrix, multiwalker, pursuit, rware, spread, vmas:",
        ),
        (["--scenario", "vmas:simple_spread"], "unknown VMAS scenario 'vmas:simple_spread'; offered: vmas:navigation"),
        (["--envs-per-runner", "0"], "--envs-per-runner must be at least 1, got 0"),
        (["--finetune-eval-every", "-1"], "--finetune-eval-every must be at least 0 (0: no learning curves), got -1"),
        (["--eval-agents", "3,6,12", "--n-max", "8"], "team size 12 is above --n-max 8"),
        (["--scenario", "multiwalker"], "qmix with the concat embedding on multiwalker"),
        (["--config", "no/such/file.yaml"], "--config no/such/file.yaml: no such file"),
        (["--training", '{"ppo": {}}'], "--training has entries for ppo"),
        (["--finetune-training", '{"ppo": {}}'], "--finetune-training has entries for ppo"),
        (["--finetune-training", '{"qmix": {"lr": -1}}'], "--finetune conservative: lr must be a number > 0"),
        (["--training", '{"qmix": {"no_such_option": 1}}'], "qmix with the concat embedding on spread"),
        (["--training", '{"qmix": {"lr": -1}}'], "lr must be a number > 0"),
        (["--algos", "mappo", "--training", '{"all": {"gamma": 1.5}}'], "gamma must be a number in [0, 1)"),
        (
            ["--training", '{"qmix": {"train_batch_size_per_learner": 0}}'],
            "train_batch_size_per_learner must be an int >= 1, got 0",
        ),
        (["--resume"], "--resume needs --name"),
        (
            ["--finetune-timesteps", "800", "--finetune", "naive"],
            "--finetune-timesteps 800 would never update qmix: its run first fills its replay",
        ),
        (["--finetune", "bold"], "unknown --finetune 'bold'; known strategies: naive, conservative, kl, others"),
        (["--finetune", "kl,bold"], "unknown --finetune 'bold'"),
        (["--finetune", "kl,kl"], "--finetune lists kl more than once; give each value once"),
        (
            ["--eval-agents", "3,6", "--finetune-agents", "8"],
            "--finetune-agents must list sizes among --eval-agents 3,6, got 8; add the size to --eval-agents",
        ),
        (["--eval-agents", "3,6", "--scratch-agents", "6,6"], "--scratch-agents lists 6 more than once"),
        (["--finetune", "naive,others", "--slots", "random"], "--finetune others: the 'others' strategy pulls agents"),
        (["--finetune", "others", "--slots", "random"], "--finetune others: the 'others' strategy pulls agents"),
        (
            ["--scenario", "multiwalker", "--algos", "maddpg", "--finetune", "kl"],
            "maddpg with the concat embedding on multiwalker, --finetune kl: finetune_kl compares softmax policies",
        ),
        (["--finetune-kl-steps", "-1"], "--finetune-kl-steps must be >= 0"),
        (["--seeds", "0,0"], "--seeds lists 0 more than once; give each value once"),
        (["--seeds", "-1"], "--seeds must be integers in [0, 2**32) (numpy's seeds), got -1"),
        (["--n-max", "0"], "--n-max must be at least 1 (or left out: the largest size named), got 0"),
        (["--finetune-kl", "inf"], "--finetune-kl must be a finite number, got inf"),
        (["--gpus-per-trial", "nan"], "--gpus-per-trial must be a finite number, got nan"),
        (["--embeddings", "graph,graph"], "--embeddings lists graph more than once"),
        (["--name", "../../escape"], "--name '../../escape' must be one folder name under --storage"),
        (["--scenario-options", '{"max_cycles": 0}'], "spread option max_cycles=0 must be an int >= 1"),
        (
            ["--scenario", "pursuit", "--scenario-options", '{"n_evaders": 0}'],
            "pursuit option n_evaders=0 must be an int >= 1",
        ),
        (["--timesteps", "1000"], "--timesteps 1000 would never update qmix"),
        (["--variant", "unmix inverse"], "--variant 'unmix inverse' must be letters, digits, '.', '_' or '-'"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2_before_ray_starts(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(transfer, "start_ray", _ray_must_not_start)
    assert main([*argv, "--storage", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert message in error
    assert error.count("\n") == 1, error


def test_unknown_key_in_the_config_file_is_rejected(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(transfer, "start_ray", _ray_must_not_start)
    config = tmp_path / "grid.yaml"
    config.write_text("algos: [qmix]\nlearning_rate: 0.1\n")
    assert main(["--config", str(config)]) == 2
    assert "unknown key 'learning_rate'; known keys: algos" in capsys.readouterr().err


def test_an_existing_experiment_is_not_overwritten(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(transfer, "start_ray", _ray_must_not_start)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "settings.yaml").write_text("{}")
    assert main(["--storage", str(tmp_path), "--name", "mine"]) == 2
    assert "pass --resume --name mine to continue it" in capsys.readouterr().err


def test_unwritable_storage_and_broken_yaml_are_one_line_and_exit_code_2(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(transfer, "start_ray", _ray_must_not_start)
    assert main(["--storage", "/proc/forbidden"]) == 2
    assert "--storage /proc/forbidden is not writable" in capsys.readouterr().err
    broken = tmp_path / "broken.yaml"
    broken.write_text("algos: [qmix\nseeds: 0\n")
    assert main(["--config", str(broken), "--storage", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert f"--config {broken}: line 2, column 6: expected ',' or ']'" in error and error.count("\n") == 1


def run_script(script, *args: str, cwd=None, this_checkout: bool = True) -> subprocess.CompletedProcess:
    """Run a copy of the transfer script as a user would, never joining a running Ray cluster; with `this_checkout`
    its imports come from this checkout, else from the installed project."""
    env = {**os.environ, "RAY_ADDRESS": "local", **({"PYTHONPATH": str(ROOT)} if this_checkout else {})}
    return subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, timeout=120, check=False, cwd=cwd, env=env
    )


def test_a_settings_error_is_the_only_line_on_stderr():
    """Validation builds every algorithm's config: RLlib's "running on the new API stack" warning stays quiet."""
    done = run_script(ROOT / "experiments" / "transfer.py", "--timesteps", "1000")
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert "--timesteps 1000 would never update qmix" in done.stderr


def test_the_command_line_exits_2_with_one_line_on_a_malformed_flag():
    done = run_script(ROOT / "experiments" / "transfer.py", "--eval-agents", "three")
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert "expected comma-separated integers" in done.stderr
    with pytest.raises(SystemExit) as exit_:
        parse_settings(["--slots", "middle"])
    assert exit_.value.code == 2


def test_cluster_yaml_passes_ray_s_autoscaler_schema():
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = yaml.safe_load((ROOT / "cluster" / "gpu.yaml").read_text())
    validate_config(prepare_config(config))
    workers = config["available_node_types"]["worker_gpu"]
    assert config["provider"]["type"] == "aws"
    assert workers["min_workers"] == 0 and workers["resources"]["GPU"] >= 1
    assert workers["node_config"]["InstanceMarketOptions"]["MarketType"] == "spot"
    assert "GPU" not in config["available_node_types"][config["head_node_type"]]["resources"]


def test_the_shipped_config_file_is_valid():
    settings, explicit = parse_settings(["--config", str(ROOT / "experiments" / "configs" / "transfer_spread.yaml")])
    assert settings.algos == ["iql", "vdn", "qmix", "gum"] and settings.padded_size == 8
    assert settings.training_options("gum") == {"epsilon": [[0, 1.0], [50000, 0.05]]}
    assert "timesteps" in explicit


def test_the_study_config_fine_tunes_with_three_strategies_at_6_and_8_on_either_spread():
    study = str(ROOT / "experiments" / "configs" / "study_spread.yaml")
    for scenario in ("spread", "vmas:spread"):
        settings, _ = parse_settings(["--config", study, "--scenario", scenario, "--algos", "qmix,maddpg"])
        assert settings.finetune == ["naive", "conservative", "kl"] and settings.finetune_sizes == [6, 8]
        assert settings.scratch_sizes == [6] and settings.padded_size == 8 and settings.timesteps == 1_000_000
        assert settings.cells == [("qmix", e) for e in ("concat", "mean", "graph")] + [("maddpg", "graph")]
    whole, _ = parse_settings(["--config", study])
    assert whole.scenario == "vmas:spread" and len(whole.cells) == 12 and whole.seeds == [0, 1, 2, 3, 4]
    assert whole.algo_embeddings("vdn") == whole.algo_embeddings("iac_awac") == ["concat"]


def test_finetune_training_options_set_the_fine_tuning_trials_only_after_the_strategy_s_own():
    settings, _ = parse_settings(
        ["--training", '{"qmix": {"target_update_interval": 100}}',
         "--finetune-training", '{"all": {"target_update_interval": 50, "lr": 0.002}, "iql": {"lr": 0.003}}']
    )  # fmt: skip
    assert train_config(settings, "qmix", "concat", seed=0).target_update_interval == 100
    finetuning = finetune_algo_config(settings, "qmix", "concat", 6, 0, 20_000, "conservative")
    assert finetuning.target_update_interval == 50
    assert finetuning.lr == 0.002, "given, not the conservative strategy's scaled lr"
    assert finetune_algo_config(settings, "iql", "concat", 6, 0, 20_000, "naive").lr == 0.003
    plain, _ = parse_settings([])
    assert finetune_algo_config(plain, "qmix", "concat", 6, 0, 20_000, "naive").target_update_interval == 200


@pytest.mark.parametrize(
    "argv, ids, slots",
    [([], "reuse", 3), (["--zero-shot-ids", "own"], "own", None), (["--slots", "random"], "own", None)],
)
def test_fine_tuning_acts_with_the_ids_zero_shot_evaluation_reuses(argv, ids, slots):
    settings, _ = parse_settings(["--eval-agents", "3,6", *argv])
    for strategy in ("naive", "conservative", "kl"):
        config = finetune_algo_config(settings, "qmix", "concat", 6, 0, 20_000, strategy)
        assert (config.finetune_ids, config.finetune_trained_slots) == (ids, slots), strategy


def test_actor_critic_algorithms_join_the_transfer_grid_and_are_checked_against_the_scenario(capsys, monkeypatch):
    settings, _ = parse_settings(["--algos", "iac,central_v,coma,maddpg", "--embeddings", "mean"])
    assert settings.algos == ["iac", "central_v", "coma", "maddpg"]
    continuous, _ = parse_settings(["--algos", "maddpg", "--scenario", "multiwalker"])
    assert continuous.scenario == "multiwalker", "maddpg acts in multiwalker's continuous action space"
    sac, _ = parse_settings(["--algos", "central_v_sac", "--scenario", "multiwalker"])
    assert sac.algos == ["central_v_sac"], "central_v_sac acts there too"
    a2c, _ = parse_settings(["--algos", "iac,central_v", "--scenario", "multiwalker"])
    assert a2c.algos == ["iac", "central_v"], "the a2c learners act in continuous action spaces too"
    monkeypatch.setattr(transfer, "start_ray", _ray_must_not_start)
    assert main(["--algos", "coma", "--scenario", "multiwalker"]) == 2
    error = capsys.readouterr().err
    assert "coma with the concat embedding on multiwalker: COMA needs discrete actions" in error
    assert "or central_v, central_v_sac, iac, ippo, maddpg, mappo for continuous actions" in error


def test_only_replay_learners_need_a_budget_beyond_learning_starts_and_the_smoke_lowers_it():
    on_policy, _ = parse_settings(["--algos", "iac", "--timesteps", "800", "--finetune-timesteps", "300"])
    assert on_policy.timesteps == 800, "an on-policy learner updates from its first batch"
    tuned, _ = parse_settings(["--finetune-timesteps", "800", "--training", '{"qmix": {"learning_starts": 500}}'])
    assert tuned.finetune_timesteps == 800
    smoke, _ = parse_settings(["--smoke", "--algos", "qmix,central_v_sac"])
    for algo in ("qmix", "central_v_sac"):
        config = algo_config(smoke, algo, "graph", smoke.train_agents, seed=0)
        assert config.learning_warmup() == SMOKE_LEARNING_STARTS < smoke.finetune_timesteps


def test_resume_refuses_a_changed_setting(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(transfer, "start_ray", _ray_must_not_start)
    folder = tmp_path / "run"
    folder.mkdir()
    settings, _ = parse_settings(["--name", "run", "--storage", str(tmp_path)])
    (folder / "settings.yaml").write_text(yaml.safe_dump(settings.to_dict()))
    assert main(["--resume", "--name", "run", "--storage", str(tmp_path), "--env-runners", "2"]) == 2
    assert "env_runners differs (stored 0, given 2)" in capsys.readouterr().err


def test_a_resumed_study_chunk_reads_back_per_algorithm_embeddings_and_takes_the_same_config_again(tmp_path):
    study = str(ROOT / "experiments" / "configs" / "study_spread.yaml")
    argv = ["--config", study, "--algos", "qmix,vdn", "--seeds", "3", "--storage", str(tmp_path), "--name", "chunk"]
    settings, _ = parse_settings(argv)
    (tmp_path / "chunk").mkdir()
    (tmp_path / "chunk" / "settings.yaml").write_text(yaml.safe_dump(settings.to_dict()))
    again, explicit = parse_settings([*argv, "--resume"])
    resumed = experiment_folder.resolve_resume(again, explicit)
    qmix = [("qmix", embedding) for embedding in ("concat", "mean", "graph")]
    assert resumed.cells == settings.cells == [*qmix, ("vdn", "concat")]
    assert resumed.embeddings == settings.embeddings and resumed.resume


def test_trials_that_no_node_can_hold_are_refused_with_the_numbers():
    from experiments.transfer_experiment.resources import why_unplaceable

    laptop = [{"CPU": 2.0, "memory": 1e10}]
    learner, runner = {"CPU": 1.0, "GPU": 0.0}, {"CPU": 1.0}
    assert why_unplaceable([learner, runner], laptop, can_grow=False) is None
    assert why_unplaceable([{"CPU": 1.0, "GPU": 1.0}], laptop, can_grow=False) == (
        "one of its bundles needs 1 CPU, 1 GPU, and the largest node has 2 CPU"
    )
    assert why_unplaceable([learner, *[runner] * 5], laptop, can_grow=False) == (
        "it needs 6 CPU in all, and the cluster has 2 CPU"
    )
    gpu_workers = [*laptop, {"CPU": 8.0, "GPU": 1.0}]  # an autoscaler node type, none up yet
    assert why_unplaceable([{"CPU": 1.0, "GPU": 1.0}, *[runner] * 5], gpu_workers, can_grow=True) is None


def test_a_gpu_or_too_many_env_runners_on_this_machine_exit_2_at_once(ray_session, capsys, tmp_path):
    """The shared test Ray has 2 CPUs and no GPU."""
    for flags, message in (
        (["--gpus-per-trial", "1"], "a qmix trial could never start: one of its bundles needs 1 CPU, 1 GPU"),
        (["--env-runners", "5"], "a qmix trial could never start: it needs 6 CPU in all, and the cluster has 2 CPU"),
    ):
        assert main([*flags, "--storage", str(tmp_path)]) == 2
        assert message in capsys.readouterr().err


def test_the_script_runs_from_another_directory_as_ray_submit_runs_it(tmp_path):
    """`ray submit cluster/gpu.yaml experiments/transfer.py` copies the script to the head node and runs it there,
    from the home directory: the project comes from the installed package, not from the script's folder."""
    script = tmp_path / "transfer.py"
    script.write_text((ROOT / "experiments" / "transfer.py").read_text())
    done = run_script(script, "--timesteps", "1000", cwd=tmp_path, this_checkout=False)
    assert done.returncode == 2, done.stderr
    assert "--timesteps 1000 would never update qmix" in done.stderr


def test_local_storage_is_refused_only_when_nodes_sit_on_several_hosts(monkeypatch, tmp_path):
    settings, _ = parse_settings(["--storage", str(tmp_path)])
    monkeypatch.setattr(experiment_folder, "BOOTSTRAP_CONFIG", tmp_path / "no-bootstrap.yaml")
    one_host = [{"Alive": True, "NodeManagerAddress": "10.0.0.1"}] * 2  # `ray start` twice on one machine
    monkeypatch.setattr(experiment_folder.ray, "nodes", lambda: one_host)
    experiment_folder.check_shared_storage(settings, joined_cluster=True)
    two_hosts = [*one_host, {"Alive": True, "NodeManagerAddress": "10.0.0.2"}]
    monkeypatch.setattr(experiment_folder.ray, "nodes", lambda: two_hosts)
    with pytest.raises(experiment_folder.SettingsError, match="is a local folder, but this Ray cluster has"):
        experiment_folder.check_shared_storage(settings, joined_cluster=True)


def test_a_failed_trial_is_named_by_its_errors_own_line_not_a_source_line():
    trace = (
        'Traceback (most recent call last):\n  File "trial.py", line 70, in step\n'
        "    raise FloatingPointError(\nFloatingPointError: trial train_qmix_graph_n3_seed0: default_policy/"
        "total_loss=nan at env step 500; stopped before writing results\n"
    )
    assert transfer.error_reason(RuntimeError(trace)).startswith("FloatingPointError: trial train_qmix_graph_n3_seed0")
    assert transfer.error_reason(RuntimeError("The actor died\n\tits node has died")) == "its node has died"


def test_without_ray_s_dashboard_packages_the_run_starts_without_its_dashboard(monkeypatch, capsys):
    started = {}
    monkeypatch.setenv("RAY_ADDRESS", "local")
    monkeypatch.setattr(ray_session.ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray_session, "dashboard_packages_installed", lambda: False)
    monkeypatch.setattr(ray_session.ray, "init", lambda **kwargs: started.update(kwargs))
    assert ray_session.start_ray(dashboard=True) is False
    assert started["include_dashboard"] is False
    assert "dashboard packages (ray[default], in requirements.txt) are not installed" in capsys.readouterr().out
