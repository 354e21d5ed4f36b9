"""The lower-bound check: returns-to-go, predicted team values and q_bias against hand-computed values."""

import gymnasium as gym
import numpy as np
import pytest
import torch

import envs
import rl_algos
from policies.gum_module import GUMModule
from policies.maddpg_module import TeamMADDPGModule
from policies.sac_module import TeamSACModule
from policies.team_q_module import TeamQModule
from rl_algos.common.evaluation.q_bias import carried_on_steps, discounted_returns_to_go, episode_q_bias, has_q_bias


class FixedQModule(torch.nn.Module):
    """`TeamQModule`'s team value over fixed agent Qs `[T, n_max, A]`, with a summing mixer or none."""

    team_value = TeamQModule.team_value
    episode_qs = TeamQModule.episode_qs
    mixer_inputs = TeamQModule.mixer_inputs

    def __init__(self, q: torch.Tensor, mixer: bool):
        super().__init__()
        self.q, self.recurrent, self.agent = q, False, None
        self.mixer = (lambda q_taken: q_taken.sum(-1)) if mixer else None
        self.unused = torch.nn.Parameter(torch.zeros(1))

    def agent_q(self, network, obs, state=None):
        return self.q, {}

    def mix(self, q_taken, obs):
        return self.mixer(q_taken * obs["mask"])


Q = torch.tensor([[[1.0, 5.0], [2.0, 6.0], [9.0, 9.0]], [[3.0, 7.0], [4.0, 8.0], [9.0, 9.0]]])  # [T=2, n_max=3, A=2]
ACTIONS = torch.tensor([[1, 0, 0], [0, 1, 0]])
SPACES = gym.spaces.Dict(  # a team of n_max = 3 slots with one observation feature each
    obs=gym.spaces.Box(-np.inf, np.inf, (3, 1), np.float32),
    mask=gym.spaces.Box(0, 1, (3,), np.float32),
    state=gym.spaces.Box(-np.inf, np.inf, (3,), np.float32),
)
MASK = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0]])  # the third slot is absent


def test_discounted_returns_to_go():
    np.testing.assert_allclose(discounted_returns_to_go(np.array([1.0, 2.0, 3.0]), 0.5), [2.75, 3.5, 3.0])


@pytest.mark.parametrize("mixer, expected", [(True, [5.0 + 2.0, 3.0 + 8.0]), (False, [3.5, 5.5])])
def test_predicted_team_value_is_the_mixed_value_or_the_mean_over_present_agents(mixer, expected):
    values = FixedQModule(Q, mixer).team_value({"mask": MASK}, ACTIONS)
    np.testing.assert_allclose(values["team"].numpy(), expected)


def test_episode_q_bias_is_the_mean_gap_between_predicted_value_and_return_to_go():
    obs = {"obs": np.zeros((3, 3, 1), np.float32), "mask": MASK[[0, 0, 0]].numpy(), "state": np.zeros((3, 3))}
    rewards = np.array([1.0, 2.0])
    # returns-to-go with gamma 0.5: [1 + 0.5 * 2, 2] = [2, 2]; mixed values [7, 11] -> gaps [5, 9], mean 7;
    # relative to the mean |return-to-go| 2: 3.5
    assert episode_q_bias(FixedQModule(Q, mixer=True), obs, ACTIONS.numpy(), rewards, gamma=0.5) == {
        "q_bias": pytest.approx(7.0),
        "q_bias_rel": pytest.approx(3.5),
    }
    # a module trained on rewards times 0.5 (`reward_scale`): its values [7, 11] are [14, 22] in the env's units
    assert episode_q_bias(FixedQModule(Q, mixer=True), obs, ACTIONS.numpy(), rewards, 0.5, reward_scale=0.5) == {
        "q_bias": pytest.approx(16.0),
        "q_bias_rel": pytest.approx(8.0),
    }


def _critic_module(module_class: type, algo: str, unmix: str | None) -> torch.nn.Module:
    """A discrete-action team module of `algo` over n_max = 3 slots and 2 actions, with `unmix`."""
    config = rl_algos.get_config(algo).training(unmix=unmix).model_config
    return module_class(observation_space=SPACES, action_space=gym.spaces.MultiDiscrete([2, 2, 2]), model_config=config)


def test_maddpg_critic_values_are_the_twin_minimum_and_the_own_critic_over_present_agents():
    module = _critic_module(TeamMADDPGModule, "maddpg", unmix="inverse")
    q1 = torch.tensor([[1.0, 4.0, 9.0], [2.0, 2.0, 9.0]])  # Q_a(s, u) [T=2, n_max=3] at the joint action taken
    q2 = torch.tensor([[3.0, 0.0, 9.0], [1.0, 5.0, 9.0]])
    module.twin_q = lambda obs, vectors: (q1, q2)
    module.independent_q = lambda obs, vectors: torch.tensor([[2.0, 2.0, 7.0], [4.0, 0.0, 7.0]])
    values = module.team_value({"mask": MASK}, ACTIONS)
    # min of the twins [[1, 0], [1, 2]] over the two present agents: [0.5, 1.5]; own critics [2, 2]
    np.testing.assert_allclose(values["team"].numpy(), [0.5, 1.5])
    np.testing.assert_allclose(values["independent"].numpy(), [2.0, 2.0])
    plain = _critic_module(TeamMADDPGModule, "maddpg", unmix=None)
    plain.twin_q = module.twin_q
    assert set(plain.team_value({"mask": MASK}, ACTIONS)) == {"team"}, "no own critic without unmix"


def test_gum_values_are_its_mixed_and_its_independent_estimates():
    module = _critic_module(GUMModule, "gum", unmix="inverse")
    module.agent_q = lambda network, obs, state=None: (Q, {})
    module.mix = lambda q_taken, obs: (q_taken * obs["mask"]).sum(-1)
    values = module.team_value({"mask": MASK}, ACTIONS)
    # taken Qs [[5, 2], [3, 8]] of the two present agents: summed [7, 11], averaged [3.5, 5.5]
    np.testing.assert_allclose(values["team"].numpy(), [7.0, 11.0])
    np.testing.assert_allclose(values["independent"].numpy(), [3.5, 5.5])


def test_discrete_sac_critic_values_take_each_agent_s_own_action():
    module = _critic_module(TeamSACModule, "central_v_sac", unmix="direct")
    module.twin_q = lambda obs, actions: (Q, Q + 1.0)  # Q(s, (u^-a, .)) [T, n_max, A]
    module.independent_q = lambda obs, actions: Q - 1.0
    values = module.team_value({"mask": MASK}, ACTIONS)
    # own actions [[1, 0], [0, 1]]: Q [[5, 2], [3, 8]] -> means [3.5, 5.5]; the own critics 1 lower
    np.testing.assert_allclose(values["team"].numpy(), [3.5, 5.5])
    np.testing.assert_allclose(values["independent"].numpy(), [2.5, 4.5])


@pytest.mark.parametrize(
    "algo, expected",
    [("qmix", True), ("iql", True), ("gum", True), ("maddpg", True), ("central_v_sac", True),
     ("central_v", False), ("mappo", False), ("coma", False)],
)  # fmt: skip
def test_the_learners_that_value_actions_have_a_q_bias(algo, expected):
    spec = rl_algos.get_config(algo).get_default_rl_module_spec()
    config = rl_algos.get_config(algo).model_config
    module = spec.module_class(
        observation_space=SPACES, action_space=gym.spaces.MultiDiscrete([2, 2, 2]), model_config=config
    )
    assert has_q_bias(module) is expected


def test_q_bias_over_the_first_steps_takes_the_return_to_the_end_of_the_carried_on_episode():
    obs = {"obs": np.zeros((4, 3, 1), np.float32), "mask": MASK[[0, 0, 0, 0]].numpy(), "state": np.zeros((4, 3))}
    actions = np.concatenate([ACTIONS.numpy(), ACTIONS.numpy()[:1]])
    rewards = np.array([1.0, 2.0, 4.0])
    # the task's time limit is 2 steps; the episode carried on to 3. Returns-to-go with gamma 0.5 over all three
    # rewards: [1 + 0.5 * 2 + 0.25 * 4, 2 + 0.5 * 4] = [3, 4]; mixed values [7, 11] -> gaps [4, 7], mean 5.5;
    # relative to the mean |return-to-go| 3.5 of those two states: 11 / 7
    module = FixedQModule(Q, mixer=True)  # the values of the first two states
    assert episode_q_bias(module, obs, actions, rewards, gamma=0.5, steps=2) == {
        "q_bias": pytest.approx(5.5),
        "q_bias_rel": pytest.approx(11 / 7),
    }


def test_relative_q_bias_is_the_same_at_any_discount_for_a_value_that_is_the_same_share_above_the_return():
    # a constant reward -1 over a long episode: the return-to-go is about -1 / (1 - gamma); a learner valuing every
    # state 10% above it (less negative) overestimates by about 1 / (1 - gamma) / 10 in q_bias, by 0.1 in q_bias_rel
    steps = 20
    figures = {}
    for gamma in (0.5, 0.9):
        rewards = -np.ones(4000)
        returns = discounted_returns_to_go(rewards, gamma)[:steps]
        q = torch.zeros(steps, 3, 2)
        q[:, 0, 0] = torch.as_tensor(0.9 * returns)  # agent 0's Q of action 0; the other two agents' Qs are 0
        obs = {"obs": np.zeros((steps, 3, 1), np.float32), "mask": np.ones((steps, 3), np.float32)}
        module = FixedQModule(q, mixer=True)
        figures[gamma] = episode_q_bias(module, obs, np.zeros((steps, 3), np.int64), rewards, gamma, steps=steps)
    assert figures[0.5]["q_bias"] == pytest.approx(0.2) and figures[0.9]["q_bias"] == pytest.approx(1.0)
    assert figures[0.5]["q_bias_rel"] == pytest.approx(0.1) and figures[0.9]["q_bias_rel"] == pytest.approx(0.1)


def test_relative_q_bias_is_undefined_where_every_return_to_go_is_zero():
    obs = {"obs": np.zeros((2, 3, 1), np.float32), "mask": MASK.numpy()}
    figures = episode_q_bias(FixedQModule(Q, mixer=True), obs, ACTIONS.numpy(), np.zeros(2), gamma=0.5)
    assert figures["q_bias"] == pytest.approx(9.0) and np.isnan(figures["q_bias_rel"])


def test_carried_on_episodes_leave_out_at_most_the_tolerance_of_the_discounted_return():
    assert carried_on_steps(25, 0.99) == 25 + 459  # 0.99 ** 459 = 0.0099 <= 0.01 < 0.99 ** 458
    assert 0.99 ** (carried_on_steps(25, 0.99) - 25) <= 0.01 < 0.99 ** (carried_on_steps(25, 0.99) - 26)
    assert carried_on_steps(25, 1.0) == 25


def test_every_scenario_but_the_matrix_games_names_its_time_limit():
    limits = {name: envs.find_scenario(name).time_limit_option for name in ("spread", "pursuit", "rware", "matrix")}
    assert limits == {"spread": "max_cycles", "pursuit": "max_cycles", "rware": "max_cycles", "matrix": None}
    assert envs.find_scenario("vmas:spread").time_limit_option == "max_steps"
