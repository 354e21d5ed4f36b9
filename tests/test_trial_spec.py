"""`TrialSpec`: a trial's typed description, carried by Tune as a plain dict and read back the same."""

import pytest

from experiments.transfer_experiment.settings import parse_settings
from experiments.transfer_experiment.trial_spec import TrialSpec


def test_a_spec_survives_tune_s_dict_and_names_its_trial():
    settings, _ = parse_settings(["--algos", "qmix", "--eval-agents", "3,6", "--timesteps", "50000"])
    finetune = TrialSpec(settings, "finetune", "qmix", "graph", (6,), 2, 5000, "/ckpt/checkpoint_000001", 50_000)
    assert TrialSpec.from_dict(finetune.to_dict()) == finetune
    assert finetune.name == "finetune_qmix_graph_n6_seed2"
    train = TrialSpec(settings, "train", "qmix", "graph", (3,), 0, 50_000)
    assert train.curve_sizes() == [3, 6] and finetune.curve_sizes() == [6], "train trials draw zero-shot curves"


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
