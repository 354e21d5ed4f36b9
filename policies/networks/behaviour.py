"""Behaviour models `beta(u | o_a, id_a)`: the replayed actions cloned by one model shared by all agents.

- `bc`: an MLP classifier trained with cross-entropy;
- `vae`: a conditional autoencoder over actions as in BCQ/BEAR: `encoder(o, u) -> z`, `decoder(o, z)` ->
  action logits, KL to N(0, I); sampled with `z ~ N(0, I)`.

Both take the agents' observations `[B, n_max, obs_dim]` (agent id appended inside) and are trained on the
present agents only (`mask`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from policies.networks.agent_ids import AppendAgentIds
from policies.networks.masked import masked_mean
from policies.networks.mlp import mlp

BEHAVIOUR_MODELS = ("bc", "vae")


class BehaviourFit(NamedTuple):
    """What the learner takes from the behaviour model per batch: the cloning `loss` and the `accuracy` of its most
    likely action on the replayed actions of present agents, and, without gradients, beta's `probs` `[B, n_max, A]`
    and joint actions drawn from it, `samples` `[S, B, n_max]`."""

    loss: torch.Tensor
    accuracy: torch.Tensor
    probs: torch.Tensor
    samples: torch.Tensor


class BCBehaviourModel(nn.Module):
    """Behaviour cloning: `beta(u | o_a, id_a) = softmax(MLP([o_a, id_a]))`."""

    def __init__(self, obs_dim: int, n_actions: int, n_max: int, hidden: Sequence[int] = (64, 64)):
        super().__init__()
        self.agent_ids = AppendAgentIds(n_max)
        self.net = mlp(obs_dim + n_max, hidden, n_actions)

    def logits(self, obs: torch.Tensor) -> torch.Tensor:
        """Action logits `[B, n_max, A]` of the cloned policy."""
        return self.net(self.agent_ids(obs))

    # Cross-entropy over present agents: -mean_a log beta(u_a | o_a)
    def loss(self, obs: torch.Tensor, actions: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(loss, accuracy of the most likely action) on the replayed actions of present agents."""
        return cross_entropy_and_accuracy(self.logits(obs), actions, mask)

    def fit(self, obs: torch.Tensor, actions: torch.Tensor, mask: torch.Tensor, num_samples: int) -> BehaviourFit:
        """The loss and beta itself from one pass of the network: probs exact, `num_samples` joint actions drawn."""
        logits = self.logits(obs)  # [B, n, A]
        loss, accuracy = cross_entropy_and_accuracy(logits, actions, mask)
        beta = torch.distributions.Categorical(logits=logits.detach())
        return BehaviourFit(loss, accuracy, beta.probs, beta.sample((num_samples,)))


class VAEBehaviourModel(nn.Module):
    """A conditional VAE over discrete actions (BCQ/BEAR's behaviour model): `q(z | o, u)` and `p(u | o, z)`,
    trained with `-log p(u | o, z) + kl_coef * KL(q(z | o, u) || N(0, I))`."""

    def __init__(
        self,
        obs_dim: int,
        n_actions: int,
        n_max: int,
        hidden: Sequence[int] = (64, 64),
        latent_dim: int = 8,
        kl_coef: float = 0.5,
    ):
        super().__init__()
        self.n_actions, self.latent_dim, self.kl_coef = n_actions, latent_dim, kl_coef
        self.agent_ids = AppendAgentIds(n_max)
        self.encoder = mlp(obs_dim + n_max + n_actions, hidden, 2 * latent_dim)
        self.decoder = mlp(obs_dim + n_max + latent_dim, hidden, n_actions)

    def decode(self, obs: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Action logits `[..., n_max, A]` given observations and latents `[..., n_max, latent_dim]`."""
        return self.decoder(torch.cat([self.agent_ids(obs), z], dim=-1))

    # ELBO: -log p(u | o, z), z ~ q(z | o, u), plus kl_coef * KL(q(z | o, u) || N(0, I))
    def loss(self, obs: torch.Tensor, actions: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(loss, accuracy of the decoder's most likely action at the prior mean z = 0), present agents only."""
        one_hot = F.one_hot(actions.long(), self.n_actions).float()
        mean, log_var = self.encoder(torch.cat([self.agent_ids(obs), one_hot], dim=-1)).chunk(2, dim=-1)
        z = mean + torch.randn_like(mean) * (0.5 * log_var).exp()
        logits = self.decode(obs, z)  # [B, n, A]
        nll = F.cross_entropy(logits.flatten(0, 1), actions.long().flatten(), reduction="none").view_as(mask)
        kl = 0.5 * (mean.pow(2) + log_var.exp() - 1.0 - log_var).sum(-1)  # [B, n]
        prior_mean_logits = self.decode(obs, torch.zeros_like(z))
        accuracy = masked_mean((prior_mean_logits.argmax(-1) == actions).float(), mask)
        return masked_mean(nll + self.kl_coef * kl, mask), accuracy

    def fit(self, obs: torch.Tensor, actions: torch.Tensor, mask: torch.Tensor, num_samples: int) -> BehaviourFit:
        """The ELBO loss, and beta from `num_samples` latents `z ~ N(0, I)`: probs the mean decoder softmax over
        them, and one joint action drawn per latent."""
        loss, accuracy = self.loss(obs, actions, mask)
        with torch.no_grad():
            z = torch.randn(num_samples, *obs.shape[:-1], self.latent_dim, device=obs.device)
            beta = torch.distributions.Categorical(logits=self.decode(obs.expand(num_samples, *obs.shape), z))
        return BehaviourFit(loss, accuracy, beta.probs.mean(dim=0), beta.sample())


# -mean_a log beta(u_a | o_a) over present agents, and how often beta's most likely action is the replayed one
def cross_entropy_and_accuracy(
    logits: torch.Tensor, actions: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """logits [B, n, A]; actions, mask [B, n] -> (loss, accuracy)."""
    nll = F.cross_entropy(logits.flatten(0, 1), actions.long().flatten(), reduction="none").view_as(mask)
    return masked_mean(nll, mask), masked_mean((logits.argmax(-1) == actions).float(), mask)


def make_behaviour_model(name: str, obs_dim: int, n_actions: int, n_max: int) -> nn.Module:
    """The behaviour model called `name` (`bc` | `vae`)."""
    if name == "bc":
        return BCBehaviourModel(obs_dim, n_actions, n_max)
    if name == "vae":
        return VAEBehaviourModel(obs_dim, n_actions, n_max)
    raise ValueError(f"unknown behaviour_model {name!r}; known models: {', '.join(BEHAVIOUR_MODELS)}")
