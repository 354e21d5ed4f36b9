"""`TeamActor`: the shared stochastic actor of the actor-critic teams, and its RLlib action distributions."""

from __future__ import annotations

from collections.abc import Sequence

import gymnasium as gym
import numpy as np
import torch
from ray.rllib.core.distribution.torch.torch_distribution import (
    TorchDeterministic,
    TorchMultiCategorical,
    TorchSquashedGaussian,
)
from ray.rllib.utils.numpy import MIN_LOG_NN_OUTPUT
from torch import nn

from policies.networks.agent_network import AgentQNetwork, RecurrentAgentQNetwork

ABSENT_LOGIT = -1e9  # absent agents' logits for actions 1..A-1: they always pick action 0, with log-prob 0


def absent_agent_logits(n_actions: int) -> torch.Tensor:
    """The logits `[A]` of an absent agent: action 0 (which `TeamEnv` ignores) with probability 1."""
    absent = torch.full((n_actions,), ABSENT_LOGIT)
    absent[0] = 0.0
    return absent


def box_bounds(action_space: gym.spaces.Box) -> tuple[float, float]:
    """The one `(low, high)` of a team's Box action space, whose every dimension must share it (as multiwalker's
    [-1, 1] and spread's [0, 1] do)."""
    low, high = np.unique(action_space.low), np.unique(action_space.high)
    if len(low) != 1 or len(high) != 1 or not np.isfinite([low[0], high[0]]).all():
        raise ValueError(f"continuous actions need the same finite bounds on every dimension, got {action_space}")
    return float(low[0]), float(high[0])


@torch.no_grad()
def scale_output_layer(network: nn.Module, scale: float) -> None:
    """Multiply the weights of `network`'s last linear layer (its output) by `scale` and zero its bias: with a small
    scale the network starts near 0 whatever its input (a near-uniform policy from logits)."""
    output = [module for module in network.modules() if isinstance(module, nn.Linear)][-1]
    output.weight.mul_(scale)
    output.bias.zero_()


class TeamSquashedGaussian(TorchSquashedGaussian):
    """RLlib's tanh-squashed Gaussian whose greedy action is the squashed mean `tanh(loc)` (RLlib 2.60's
    `to_deterministic()` returns the raw `loc`, outside the action bounds)."""

    def to_deterministic(self) -> TorchDeterministic:
        return TorchDeterministic(loc=self._squash(self.loc))

    def pre_squash_entropy(self) -> torch.Tensor:
        """The entropy of the Gaussian before the `tanh`, summed over action dimensions `[..., n_max]` (the squashed
        distribution's own has no closed form; RLlib's `entropy()` raises): A2C's entropy bonus."""
        return self._dist.entropy().sum(dim=-1)


class TeamActor(nn.Module):
    """One stochastic policy for every agent slot, `pi(u | o_a, id_a)`, giving RLlib action-distribution inputs.

    Discrete actions (MultiDiscrete `[A] * n_max`): logits `[B, n_max, A]`, read flat (`[B, n_max * A]`) by
    `TorchMultiCategorical`, one categorical per slot; absent agents are forced onto action 0 (which `TeamEnv`
    ignores) with log-probability 0 and entropy 0. Continuous actions (Box `[n_max, k]` in `[low, high]`): `[loc,
    log_std]` `[B, n_max, 2k]` for `TeamSquashedGaussian`, whose samples `[B, n_max, k]` are `tanh` of a
    Gaussian scaled onto the bounds and whose log-probs `[B, n_max]` are per agent (of the tanh-squashed sample,
    before scaling); absent agents get `loc` 0 and the smallest std, so they stay at about the middle of the
    bounds (which `TeamEnv` ignores).

    `output_scale` scales the output layer's initial weights (`scale_output_layer`; 1.0 leaves PyTorch's default).

    With `recurrent` the shared network is PyMARL's GRU agent (`RecurrentAgentQNetwork`, width `hidden[-1]`):
    `unroll` takes sequences `[B, T, n_max, obs_dim]` and the recurrent state before their first step, in place of
    `forward`.
    """

    def __init__(
        self,
        action_space: gym.spaces.MultiDiscrete | gym.spaces.Box,
        obs_dim: int,
        n_max: int,
        hidden: Sequence[int] = (64, 64),
        obs_agent_id: bool = True,
        recurrent: bool = False,
        output_scale: float = 1.0,
    ):
        super().__init__()
        self.n_max = n_max
        self.discrete = isinstance(action_space, gym.spaces.MultiDiscrete)
        if self.discrete:
            self.n_actions = int(action_space.nvec[0])
            self.action_dim = self.n_actions
            absent = absent_agent_logits(self.n_actions)
        else:
            self.low, self.high = box_bounds(action_space)
            self.n_actions = 0
            self.action_dim = int(action_space.shape[-1])
            absent = torch.cat([torch.zeros(self.action_dim), torch.full((self.action_dim,), MIN_LOG_NN_OUTPUT)])
        self.register_buffer("_absent", absent, persistent=False)
        outputs = self.action_dim if self.discrete else 2 * self.action_dim
        network_cls = RecurrentAgentQNetwork if recurrent else AgentQNetwork
        self.network = network_cls(obs_dim, outputs, n_max, hidden, obs_agent_id)
        if output_scale != 1.0:
            scale_output_layer(self.network, output_scale)
        self.hidden_dim = self.network.hidden_dim if recurrent else 0

    def forward(self, obs: dict[str, torch.Tensor], ids: torch.Tensor | None = None) -> torch.Tensor:
        """Per-agent distribution inputs: logits `[B, n_max, A]` or `[loc, log_std]` `[B, n_max, 2k]`; `ids`
        (`[..., n_max, n_max]` one-hots) replaces the slots' own agent ids."""
        return self._absent_where_masked(obs, self.network(obs["obs"], ids, obs["mask"]))

    def unroll(self, obs: dict[str, torch.Tensor], h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Recurrent actors: per-agent distribution inputs `[B, T, n_max, A | 2k]` over sequences of observations
        `[B, T, n_max, ...]`, and the recurrent state after each step `[B, T, n_max, H]`, from `h` `[B, n_max, H]`."""
        inputs, hiddens = self.network.unroll(obs["obs"], h)
        return self._absent_where_masked(obs, inputs), hiddens

    def _absent_where_masked(self, obs: dict[str, torch.Tensor], inputs: torch.Tensor) -> torch.Tensor:
        present = obs["mask"].unsqueeze(-1) > 0.5
        return torch.where(present, inputs, self._absent)

    def action_dist_inputs(self, per_agent_inputs: torch.Tensor) -> torch.Tensor:
        """The `Columns.ACTION_DIST_INPUTS` RLlib's connectors hand to `dist_cls()`: flat for discrete actions."""
        return per_agent_inputs.flatten(-2) if self.discrete else per_agent_inputs

    def dist_cls(self) -> type:
        """The RLlib action-distribution class: a partial `TorchMultiCategorical`, or `TeamSquashedGaussian` onto
        the action bounds."""
        if self.discrete:
            return TorchMultiCategorical.get_partial_dist_cls(input_lens=[self.n_actions] * self.n_max)
        return TeamSquashedGaussian.get_partial_dist_cls(low=self.low, high=self.high)
