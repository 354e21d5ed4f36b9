"""`TrialSpec`: a trial's typed description, carried by Tune as a plain dict and read back the same."""

import pytest

from experiments.transfer_experiment.command_line import parse_settings
from experiments.transfer_experiment.trial_spec import TrialSpec, trial_name


def test_a_spec_survives_tune_s_dict_and_names_its_trial():
    settings, _ = parse_settings(["--algos", "qmix", "--eval-agents", "3,6", "--timesteps", "50000"])
    finetune = TrialSpec(settings, "finetune", "qmix", "graph", (6,), 2, 5000, "/ckpt/checkpoint_000001", 50_000)
    assert TrialSpec.from_dict(finetune.to_dict()) == finetune
    assert finetune.name == "finetune_qmix_graph_n6_seed2"
    train = TrialSpec(settings, "train", "qmix", "graph", (3,), 0, 50_000)
    assert train.curve_sizes() == [3, 6] and finetune.curve_sizes() == [6], "train trials draw zero-shot curves"


def test_fine_tuning_trials_evaluate_on_their_own_schedule():
    from experiments.transfer_experiment.trial import trial_curve

    settings, _ = parse_settings(["--eval-agents", "3,6", "--timesteps", "50000", "--eval-every", "25000"])
    train = TrialSpec(settings, "train", "qmix", "graph", (3,), 0, 50_000)
    finetune = TrialSpec(settings, "finetune", "qmix", "graph", (6,), 0, 5000, "/ckpt", 50_000)
    assert trial_curve(train).every == 25_000 and trial_curve(finetune).every == 500, "a tenth of its own budget"
    told, _ = parse_settings(["--eval-every", "25000", "--finetune-eval-every", "0"])
    assert trial_curve(TrialSpec(told, "finetune", "qmix", "graph", (6,), 0, 5000, "/ckpt", 50_000)) is None


def test_each_phase_builds_its_own_config():
    settings, _ = parse_settings(["--algos", "qmix", "--eval-agents", "3,6", "--timesteps", "50000"])
    train = TrialSpec(settings, "train", "qmix", "graph", (3,), 0, 50_000).algo_config()
    scratch = TrialSpec(settings, "scratch", "qmix", "graph", (6,), 0, 50_000).algo_config()
    finetune = TrialSpec(settings, "finetune", "qmix", "graph", (6,), 0, 5000, "/ckpt", 50_000).algo_config()
    assert [c.env_config["n_agents"] for c in (train, scratch, finetune)] == [3, 6, 6]
    assert train.epsilon[0] == [0, 1.0] and finetune.epsilon == 0.05, "fine-tuning resumes exploration at its end"


@pytest.mark.parametrize(
    "phase, restore_from, message",
    [("pretrain", None, "phase='pretrain' is unknown"), ("finetune", None, "a finetune trial needs restore_from")],
)
def test_a_bad_spec_says_what_is_missing(phase, restore_from, message):
    settings, _ = parse_settings([])
    with pytest.raises(ValueError, match=message):
        TrialSpec(settings, phase, "qmix", "graph", (3,), 0, 1000, restore_from)


def test_several_fine_tuning_strategies_name_their_trials_and_rows():
    settings, _ = parse_settings(["--algos", "qmix", "--eval-agents", "3,6", "--finetune", "kl,naive"])
    assert settings.finetune == ["kl", "naive"]
    kl = TrialSpec(settings, "finetune", "qmix", "graph", (6,), 2, 5000, "/ckpt", 50_000, strategy="kl")
    assert TrialSpec.from_dict(kl.to_dict()) == kl
    assert kl.name == "finetune-kl_qmix_graph_n6_seed2" and kl.result_phase == "finetune:kl"
    naive = TrialSpec(settings, "finetune", "qmix", "graph", (6,), 2, 5000, "/ckpt", 50_000, strategy="naive")
    assert kl.algo_config().finetune_kl == settings.finetune_kl and not naive.algo_config().finetune_kl
    assert kl.algo_config().lr == pytest.approx(naive.algo_config().lr * settings.finetune_lr_scale), "naive keeps lr"
    with pytest.raises(ValueError, match="strategy must be one of the settings' kl, naive, got None"):
        TrialSpec(settings, "finetune", "qmix", "graph", (6,), 2, 5000, "/ckpt", 50_000)


def test_one_strategy_keeps_the_plain_finetune_phase_and_old_stored_specs_read_back():
    settings, _ = parse_settings(["--finetune", "naive"])
    stored = TrialSpec(settings, "finetune", "qmix", "graph", (6,), 0, 5000, "/ckpt", 50_000).to_dict()
    stored.pop("strategy")
    stored["settings"]["finetune"] = "naive"  # settings.yaml before --finetune took a list
    assert trial_name(stored) == "finetune_qmix_graph_n6_seed0", "Tune's stored dict names the same trial"
    spec = TrialSpec.from_dict(stored)
    assert spec.strategy == "naive" and spec.settings.finetune == ["naive"]
    assert spec.result_phase == "finetune" and spec.name == "finetune_qmix_graph_n6_seed0"


def test_fine_tuning_and_from_scratch_sizes_default_to_every_eval_size_and_can_be_narrowed():
    settings, _ = parse_settings(["--eval-agents", "3,4,6,8"])
    assert settings.finetune_sizes == [3, 4, 6, 8] and settings.scratch_sizes == [4, 6, 8], "3 is the train run"
    narrowed, _ = parse_settings(["--eval-agents", "3,4,6,8", "--finetune-agents", "6,8", "--scratch-agents", "6"])
    assert narrowed.finetune_sizes == [6, 8] and narrowed.scratch_sizes == [6]
    assert parse_settings(["--eval-agents", "3,6", "--no-scratch"])[0].scratch_sizes == []
