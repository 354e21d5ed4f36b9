"""The lower-bound check: returns-to-go, predicted team values and q_bias against hand-computed values."""

import numpy as np
import pytest
import torch
from ray.rllib.env.single_agent_episode import SingleAgentEpisode

from rl_algos.common.q_bias import discounted_returns_to_go, episode_q_bias, predicted_team_values


class FixedQModule(torch.nn.Module):
    """Stands in for `TeamQModule`: fixed agent Qs `[T, n_max, A]`, a summing mixer or none."""

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
MASK = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0]])  # the third slot is absent


def test_discounted_returns_to_go():
    np.testing.assert_allclose(discounted_returns_to_go(np.array([1.0, 2.0, 3.0]), 0.5), [2.75, 3.5, 3.0])


@pytest.mark.parametrize("mixer, expected", [(True, [5.0 + 2.0, 3.0 + 8.0]), (False, [3.5, 5.5])])
def test_predicted_team_value_is_the_mixed_value_or_the_mean_over_present_agents(mixer, expected):
    values = predicted_team_values(FixedQModule(Q, mixer), {"mask": MASK}, ACTIONS)
    np.testing.assert_allclose(values.numpy(), expected)


def test_episode_q_bias_is_the_mean_gap_between_predicted_value_and_return_to_go():
    obs = [{"obs": np.zeros((3, 1), np.float32), "mask": MASK[0].numpy(), "state": np.zeros(3, np.float32)}] * 3
    episode = SingleAgentEpisode(
        observations=obs, actions=list(ACTIONS.numpy()), rewards=[1.0, 2.0], len_lookback_buffer=0, truncated=True
    ).to_numpy()  # as the env runner returns its episodes
    # returns-to-go with gamma 0.5: [1 + 0.5 * 2, 2] = [2, 2]; mixed values [7, 11] -> gaps [5, 9], mean 7
    assert episode_q_bias(FixedQModule(Q, mixer=True), episode, gamma=0.5) == pytest.approx(7.0)
