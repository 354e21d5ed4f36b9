"""`GUMModule`: the value-team module plus what greedy unmixing's learner alone needs."""

from __future__ import annotations

import torch
from torch import nn

from policies.networks.behaviour import make_behaviour_model
from policies.networks.masked import mean_over_present
from policies.team_q_module import TeamQModule


class GUMModule(TeamQModule):
    """`TeamQModule` (shared agent network, mixer, targets) with, on the learner only, the behaviour model
    `beta(u | o_a, id_a)` (`model_config["behaviour_model"]`: "bc" | "vae") and the log Lagrange multipliers
    `[log lambda_ind, log lambda_mix]` of `unmix="lagrange"` (zeros: lambda = 1 at the start)."""

    def setup(self) -> None:
        super().setup()
        if not self.inference_only:
            n_max, obs_dim = self.observation_space["obs"].shape
            self.behaviour = make_behaviour_model(self.model_config["behaviour_model"], obs_dim, self.n_actions, n_max)
            self.log_lambdas = nn.Parameter(torch.zeros(2))

    # c_a = Q_a(o_a, u_a) - mean_u Q_a(o_a, u) with mixer_agent_input="centred"
    def mixer_inputs(self, chosen_qs: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        """The chosen Qs `[..., B, n_max]`, less each agent's mean Q over its actions (`q` `[B, n_max, A]`) with
        `model_config["mixer_agent_input"] == "centred"`: the mixer then sees how much better than its average each
        agent's action is, not the level its Qs share (the team's return, which the independent estimator trains
        them toward). `argmax_u` is unchanged, so the greedy joint action still maximises a monotonic mixer."""
        if self.model_config.get("mixer_agent_input", "q") == "centred":
            return chosen_qs - q.mean(dim=-1)
        return chosen_qs

    def mix_with_fixed_mixer(self, agent_qs: torch.Tensor, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        """`mix(agent_qs, obs)` with the mixer's parameters detached: its gradient reaches the agent Qs only."""
        fixed = {name: parameter.detach() for name, parameter in self.mixer.named_parameters()}
        return torch.func.functional_call(self.mixer, fixed, (agent_qs, obs["mask"], obs["obs"], obs["state"]))

    def get_non_inference_attributes(self) -> list[str]:
        return [*super().get_non_inference_attributes(), "behaviour", "log_lambdas"]

    @torch.no_grad()
    def team_value(self, obs: dict[str, torch.Tensor], actions: torch.Tensor) -> dict[str, torch.Tensor]:
        """Both of gum's estimates of the joint actions taken along one episode, `[T]` each: `"team"` the mixed
        `Q_mix(s_t, u_t)`, `"independent"` the mean over present agents of `Q_a(o_a, u_a)` (its independent
        estimator, trained toward the same team reward), so the evaluation gives `q_bias` and `q_bias_ind`."""
        q, q_taken = self.episode_qs(obs, actions)  # [T, n_max, A], [T, n_max]
        return {
            "team": self.mix(self.mixer_inputs(q_taken, q), obs),
            "independent": mean_over_present(q_taken, obs["mask"]),
        }
