"""Algorithm configs from option groups: each group's options are declared once, who takes a group is derived from
the configs, and a config is one chain of classes (no mixin stacks)."""

import pytest
from ray.rllib.algorithms.algorithm_config import AlgorithmConfig

import rl_algos
from rl_algos.common.config.options import OptionGroup
from rl_algos.common.config.recurrent import RecurrentAgentOptions
from rl_algos.common.config.replay import ReplayOptions
from rl_algos.common.config.team import TeamAlgorithmConfig
from rl_algos.common.config.unmixing import UnmixingOptions

SPREAD = {"scenario": "spread", "n_agents": 2, "n_max": 3}
MULTIWALKER = {"scenario": "multiwalker", "n_agents": 2}


@pytest.mark.parametrize("name", list(rl_algos.ALGORITHMS))
def test_each_config_is_one_chain_of_classes_down_from_rllib_s(name):
    chain = rl_algos.ALGORITHMS[name].__mro__
    team_configs = [cls for cls in chain if issubclass(cls, TeamAlgorithmConfig)]
    assert all(len(cls.__bases__) == 1 for cls in team_configs), "no config mixes several config classes"
    assert chain[len(team_configs)] is AlgorithmConfig


def test_the_registry_is_the_configs_own_names():
    assert TeamAlgorithmConfig.registry == rl_algos.ALGORITHMS
    assert all(config.name == name for name, config in rl_algos.ALGORITHMS.items())


@pytest.mark.parametrize("name", list(rl_algos.ALGORITHMS))
def test_recurrent_agents_are_taken_exactly_where_the_group_is_listed(name):
    takers = TeamAlgorithmConfig.algorithms_taking(RecurrentAgentOptions)
    config = rl_algos.get_config(name).environment("team", env_config=SPREAD)
    if name in takers:
        config.training(recurrent=True).validate()
        assert config.recurrent_agents() and config.model_config["recurrent"] is True
        return
    with pytest.raises(ValueError) as error:
        config.training(recurrent=True)
    assert str(error.value) == (
        f"{config.algo_name} has no option 'recurrent': it does not take recurrent agents; the algorithms that do: "
        + ", ".join(takers)
    )
    assert not config.recurrent_agents() and "recurrent" not in config.model_config


def test_the_derived_lists_name_the_algorithms_that_take_each_group():
    assert TeamAlgorithmConfig.algorithms_taking(RecurrentAgentOptions) == [
        "central_v", "coma", "iac", "ippo", "iql", "lica", "mappo", "qmix", "vdn"
    ]  # fmt: skip
    assert TeamAlgorithmConfig.algorithms_taking(UnmixingOptions) == ["central_v_sac", "gum", "maddpg"]
    assert TeamAlgorithmConfig.algorithms_taking(ReplayOptions) == [
        "central_v_sac", "gum", "iac_awac", "iql", "maddpg", "qmix", "vdn"
    ]  # fmt: skip
    assert TeamAlgorithmConfig.continuous_action_algorithms() == [
        "central_v", "central_v_sac", "iac", "ippo", "maddpg", "mappo"
    ]  # fmt: skip


@pytest.mark.parametrize("name", list(rl_algos.ALGORITHMS))
def test_continuous_actions_validate_exactly_for_the_algorithms_that_say_so(name):
    config = rl_algos.get_config(name).environment("team", env_config=MULTIWALKER)
    if name in TeamAlgorithmConfig.continuous_action_algorithms():
        config.validate()
        return
    with pytest.raises(ValueError, match="needs discrete actions, .* or central_v, central_v_sac, iac, ippo, maddpg"):
        config.validate()


def test_a_group_s_options_set_validate_and_reach_the_model_config():
    maddpg = rl_algos.get_config("maddpg").environment("team", env_config=SPREAD)
    assert (maddpg.tau, maddpg.learning_starts, maddpg.unmix, maddpg.num_env_runners) == (0.005, 1000, None, 1)
    maddpg.training(tau=0.5, unmix="direct", hidden=(8,), lr=1e-3)
    assert (maddpg.tau, maddpg.unmix, maddpg.lr) == (0.5, "direct", 1e-3)
    assert maddpg.model_config["unmix"] is True and maddpg.model_config["hidden"] == (8,)
    with pytest.raises(ValueError, match="tau must be in \\(0, 1\\]"):
        maddpg.training(tau=0.0).validate()
    assert rl_algos.get_config("qmix").tau == 1.0, "an algorithm's own default overrides the group's"


def test_configs_never_share_a_group_s_mutable_default():
    class ListOptions(OptionGroup):
        title = "a test group"
        defaults = {"sizes": [1, 2]}  # noqa: RUF012

    first, second = AlgorithmConfig(), AlgorithmConfig()
    ListOptions.set_defaults(first)
    ListOptions.set_defaults(second)
    first.sizes.append(3)
    assert second.sizes == [1, 2]
    OptionGroup.every_group.remove(ListOptions)


@pytest.mark.parametrize(
    "option, message",
    [
        ("learing_starts", "QMIX has no training option 'learing_starts'; did you mean learning_starts?"),
        ("unmix", "QMIX has no option 'unmix': it does not take greedy unmixing; the algorithms that do: "),
        ("zzz", "QMIX has no training option 'zzz'; its options: "),
    ],
)
def test_an_unknown_option_says_what_to_use_instead(option, message):
    with pytest.raises(ValueError) as error:
        rl_algos.get_config("qmix").training(**{option: 1})
    assert str(error.value).startswith(message)


@pytest.mark.parametrize("scale", [0, -1.0, True, "1", float("inf")])
def test_the_reward_scale_must_be_a_positive_number(scale):
    config = rl_algos.get_config("qmix").training(reward_scale=scale)
    with pytest.raises(ValueError, match="reward_scale must be a positive number"):
        config.validate()
