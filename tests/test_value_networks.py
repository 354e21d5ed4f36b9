"""Value-based networks and losses, without Ray: shapes, masking, monotonicity, invariance, hand-computed targets."""

import math
from types import SimpleNamespace

import gymnasium as gym
import numpy as np
import pytest
import torch
from ray.rllib.core import Columns
from torch.nn import functional as F

import rl_algos
from policies.networks.agent_ids import reuse_trained_ids
from policies.networks.agent_network import AgentQNetwork, RecurrentAgentQNetwork
from policies.networks.masked import masked_mse
from policies.networks.mixers import QMixer, VDNMixer
from policies.networks.team_embedding import make_team_embedding, parse_embedding_spec
from policies.team_q_module import TeamQModule
from policies.train_mode import SkipRepeatedModeSwitch
from rl_algos.common.learners.utils import update_targets
from rl_algos.common.losses.value import (
    double_q_next_values,
    log_policy_of_actions,
    munchausen_bonus,
    soft_next_values,
    td_targets,
)

N_MAX, OBS_DIM, STATE_DIM, N_ACTIONS = 5, 4, 7, 3
EMBEDDINGS = [
    "concat",
    "mean",
    {"type": "graph", "conv": "gat", "layers": 2, "pool": "mean"},
    {"type": "graph", "conv": "gcn", "layers": 1, "pool": "max"},
    {"type": "graph", "conv": "graph", "layers": 3, "pool": "attention"},
]
POOLED = [e for e in EMBEDDINGS if e != "concat"]


def team_batch(batch_size=6, seed=0):
    """Random agent Qs, observations and state with 1..N_MAX present agents, absent rows zeroed."""
    g = torch.Generator().manual_seed(seed)
    n_present = torch.randint(1, N_MAX + 1, (batch_size,), generator=g)
    mask = (torch.arange(N_MAX) < n_present.unsqueeze(1)).float()  # [B, n]
    obs = torch.randn(batch_size, N_MAX, OBS_DIM, generator=g) * mask.unsqueeze(-1)
    qs = torch.randn(batch_size, N_MAX, generator=g) * mask
    state = torch.randn(batch_size, STATE_DIM, generator=g)
    return qs, mask, obs, state


@pytest.mark.parametrize("embedding", EMBEDDINGS, ids=str)
def test_qmix_is_monotonic_in_every_agent_q(embedding):
    torch.manual_seed(0)
    mixer = QMixer(N_MAX, OBS_DIM, STATE_DIM, team_embedding=embedding)
    qs, mask, obs, state = team_batch(32)
    qs = (qs * 5).requires_grad_(True)
    (grad,) = torch.autograd.grad(mixer(qs, mask, obs, state).sum(), qs)
    assert (grad >= 0).all()
    assert (grad[mask.bool()] > 0).any()


@pytest.mark.parametrize("normalised", [True, False])
def test_qmix_hypernetworks_see_the_state_scale_only_without_input_norm(normalised):
    # mixer_input="state" feeds the state itself: with the input layer-normalised, Q_tot depends on the state's
    # direction only, so scaling every state by 10 changes nothing; without it, the mixing weights scale too
    torch.manual_seed(0)
    mixer = QMixer(N_MAX, OBS_DIM, STATE_DIM, mixer_input="state", hypernet_input_norm=normalised)
    qs, mask, obs, state = team_batch(16)
    embedded = mixer.embed(obs, mask, state)
    if normalised:
        torch.testing.assert_close(embedded.mean(-1), torch.zeros(16), atol=1e-5, rtol=0)
        torch.testing.assert_close(embedded.std(-1, unbiased=False), torch.ones(16), atol=1e-3, rtol=0)
    else:
        torch.testing.assert_close(embedded, state)
    q_tot, q_tot_scaled = mixer(qs, mask, obs, state), mixer(qs, mask, obs, 10 * state)
    assert torch.allclose(q_tot, q_tot_scaled, atol=1e-4) == normalised
    assert not list(mixer.input_norm.parameters())  # nothing learned: checkpoints load with or without it


def test_mean_pooling_divides_the_first_layer_s_weighted_sum_by_the_present_agents():
    torch.manual_seed(0)
    summing = QMixer(N_MAX, OBS_DIM, STATE_DIM, team_embedding="mean")
    averaging = QMixer(N_MAX, OBS_DIM, STATE_DIM, team_embedding="mean", mixer_pooling="mean")
    averaging.load_state_dict(summing.state_dict())  # the same parameters: only the pooling differs
    qs, mask, obs, state = team_batch(8)
    e = summing.embed(obs, mask, state)
    w1 = summing.hyper_w1(e).abs().view(-1, N_MAX, summing.mixing_embed_dim)  # [B, n, m]
    weighted = (qs.unsqueeze(-1) * w1).sum(1)  # [B, m]: absent Qs are zero in team_batch
    b1 = summing.hyper_b1(e)
    torch.testing.assert_close(summing.first_layer(qs, mask, e), weighted + b1)
    torch.testing.assert_close(averaging.first_layer(qs, mask, e), weighted / mask.sum(-1, keepdim=True) + b1)
    expected = (F.elu(weighted / mask.sum(-1, keepdim=True) + b1) * summing.hyper_w2(e).abs()).sum(-1)
    torch.testing.assert_close(averaging(qs, mask, obs, state), expected + summing.value(e).squeeze(-1))
    with pytest.raises(ValueError, match="mixer_pooling='max' is unknown; use one of sum, mean"):
        QMixer(N_MAX, OBS_DIM, STATE_DIM, mixer_pooling="max")


def test_mean_pooling_keeps_the_first_layer_s_scale_when_the_team_doubles():
    # two teams of copies: every agent of the second sees what an agent of the first sees, and holds its Q; with a
    # pooled embedding and equal hypernetwork weights per slot, a mean-pooled first layer is the same for both teams
    # while the summing one doubles its weighted sum
    torch.manual_seed(0)
    mixers = {
        pooling: QMixer(N_MAX - 1, OBS_DIM, STATE_DIM, team_embedding="mean", mixer_pooling=pooling)
        for pooling in ("sum", "mean")
    }
    for mixer in mixers.values():
        with torch.no_grad():  # one weight per mixing unit, shared by every slot
            mixer.hyper_w1[-1].weight.copy_(mixer.hyper_w1[-1].weight[: mixer.mixing_embed_dim].repeat(N_MAX - 1, 1))
            mixer.hyper_w1[-1].bias.copy_(mixer.hyper_w1[-1].bias[: mixer.mixing_embed_dim].repeat(N_MAX - 1))
    obs = torch.randn(1, N_MAX - 1, OBS_DIM)
    obs[:, 2:] = 0
    qs = torch.tensor([[-3.0, -5.0, 0.0, 0.0]])
    small = torch.tensor([[1.0, 1.0, 0.0, 0.0]])
    doubled_obs = torch.cat([obs[:, :2], obs[:, :2]], dim=1)
    doubled_qs, doubled = torch.cat([qs[:, :2], qs[:, :2]], dim=1), torch.ones(1, N_MAX - 1)
    state = torch.zeros(1, STATE_DIM)
    for pooling, mixer in mixers.items():
        e_small, e_doubled = mixer.embed(obs, small, state), mixer.embed(doubled_obs, doubled, state)
        torch.testing.assert_close(e_small, e_doubled)  # the mean embedding of copies is the same
        b1 = mixer.hyper_b1(e_small)
        h_small = mixer.first_layer(qs, small, e_small) - b1
        h_doubled = mixer.first_layer(doubled_qs, doubled, e_doubled) - b1
        torch.testing.assert_close(h_doubled, h_small * (1.0 if pooling == "mean" else 2.0))
        assert (h_small < 0).all()


def test_q_norm_mixes_the_qs_divided_by_the_running_scale_and_scales_the_result_back():
    torch.manual_seed(0)
    plain = QMixer(N_MAX, OBS_DIM, STATE_DIM, team_embedding="mean")
    normed = QMixer(N_MAX, OBS_DIM, STATE_DIM, team_embedding="mean", q_norm=True)
    normed.load_state_dict({**plain.state_dict(), "q_scale": torch.tensor(4.0)})
    qs, mask, obs, state = team_batch(8)
    # Q_tot = sigma * mix(q / sigma): at sigma 4, four times the plain mixer's value of the Qs divided by 4 ...
    torch.testing.assert_close(normed(qs, mask, obs, state), 4 * plain(qs / 4, mask, obs, state))
    # ... so Qs and scale grown together by 10 give 10 times the value: the first layer sees the same inputs
    normed.q_scale.fill_(40.0)
    torch.testing.assert_close(normed(10 * qs, mask, obs, state), 10 * 4 * plain(qs / 4, mask, obs, state))
    e = normed.embed(obs, mask, state)
    torch.testing.assert_close(normed.first_layer(10 * qs, mask, e), plain.first_layer(qs / 4, mask, e))


def test_the_running_scale_moves_toward_the_present_agents_mean_absolute_q_and_never_below_one():
    mixer = QMixer(N_MAX, OBS_DIM, STATE_DIM, q_norm=True)
    mask = torch.tensor([[1.0, 1.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0, 0.0]])
    qs = torch.tensor([[-10.0, -20.0, 999.0, 0.0, 0.0], [-30.0, -999.0, 0.0, 0.0, 0.0]])  # absent: never read
    mixer.observe_agent_qs(qs, mask)  # mean |Q| over present agents 20: 1 + 0.01 * (20 - 1)
    assert mixer.q_scale.item() == pytest.approx(1.19)
    mixer.observe_agent_qs(qs, mask)
    assert mixer.q_scale.item() == pytest.approx(1.19 + 0.01 * (20 - 1.19))
    mixer.q_scale.fill_(1.5)
    mixer.observe_agent_qs(torch.full_like(qs, 0.2), mask)  # |Q| below 1 counts as 1
    assert mixer.q_scale.item() == pytest.approx(1.5 + 0.01 * (1.0 - 1.5))
    assert "q_scale" in mixer.state_dict(), "saved with checkpoints, copied to the target mixer"
    unnormed = QMixer(N_MAX, OBS_DIM, STATE_DIM)
    unnormed.observe_agent_qs(qs, mask)  # without q_norm: nothing to track, and no buffer to save
    assert unnormed.scale() == 1.0 and "q_scale" not in unnormed.state_dict()


def test_the_target_mixer_takes_the_running_scale_with_the_weights():
    module = make_module(mixer="qmix", mixer_q_norm=True)
    module.make_target_networks()
    module.mixer.q_scale.fill_(7.0)
    update_targets(SimpleNamespace(module=SimpleNamespace(_rl_modules={"m": module})), tau=1.0)
    assert module._target_mixer.q_scale.item() == 7.0


@pytest.mark.parametrize("pooling, q_norm", [("sum", False), ("mean", False), ("mean", True)])
def test_qmix_is_monotonic_and_padding_free_with_either_pooling_and_q_norm(pooling, q_norm):
    torch.manual_seed(0)
    mixer = QMixer(N_MAX, OBS_DIM, STATE_DIM, team_embedding="graph", mixer_pooling=pooling, q_norm=q_norm)
    if q_norm:
        mixer.q_scale.fill_(3.0)
    qs, mask, obs, state = team_batch(32)
    qs = (qs * 5).requires_grad_(True)
    (grad,) = torch.autograd.grad(mixer(qs, mask, obs, state).sum(), qs)
    assert (grad >= 0).all() and (grad[mask.bool()] > 0).any()
    assert not grad[~mask.bool()].any()


@pytest.mark.parametrize("embedding", EMBEDDINGS, ids=str)
def test_padded_agents_change_neither_q_tot_nor_any_gradient(embedding):
    torch.manual_seed(0)
    mixer = QMixer(N_MAX, OBS_DIM, STATE_DIM, team_embedding=embedding)
    qs, mask, obs, state = team_batch(8)
    absent = (1 - mask).bool()
    garbage_qs = qs.clone()
    garbage_qs[absent] = 100.0
    garbage_obs = obs.clone()
    garbage_obs[absent] = torch.randn(int(absent.sum()), OBS_DIM) * 50

    results = []
    for agent_qs, agent_obs in [(qs, obs), (garbage_qs, garbage_obs)]:
        mixer.zero_grad()
        agent_qs = agent_qs.clone().requires_grad_(True)
        q_tot = mixer(agent_qs, mask, agent_obs, state)
        q_tot.sum().backward()
        grads = [p.grad.clone() for p in mixer.parameters() if p.grad is not None]
        results.append((q_tot.detach(), agent_qs.grad, grads))
    torch.testing.assert_close(results[0][0], results[1][0])
    for a, b in zip(results[0][2], results[1][2], strict=True):
        torch.testing.assert_close(a, b)
    assert not results[1][1][absent].any()


def test_vdn_is_the_masked_sum():
    qs, mask, obs, state = team_batch(4)
    qs = qs + (1 - mask) * 99.0
    torch.testing.assert_close(VDNMixer()(qs, mask, obs, state), (qs * mask).sum(-1))


@pytest.mark.parametrize(
    "mixer", [QMixer(N_MAX, OBS_DIM, STATE_DIM, team_embedding="mean"), VDNMixer()], ids=["qmix", "vdn"]
)
def test_several_joint_actions_of_the_same_states_mix_as_one_at_a_time(mixer):
    # gum mixes the taken, the greedy and the behaviour's sampled joint actions of each state in one call
    qs, mask, obs, state = team_batch(6)
    joint = torch.stack([qs, -qs, 2 * qs + 1])  # [3, B, n]
    one_at_a_time = torch.stack([mixer(joint[k], mask, obs, state) for k in range(3)])  # [3, B]
    mixed = mixer(joint, mask, obs, state)
    assert mixed.shape == (3, 6)
    torch.testing.assert_close(mixed, one_at_a_time)
    assert not torch.allclose(mixed[0], mixed[1])


@pytest.mark.parametrize("embedding", POOLED, ids=str)
def test_pooled_embeddings_are_invariant_to_permuting_present_agents(embedding):
    torch.manual_seed(0)
    net = make_team_embedding(embedding, OBS_DIM, N_MAX)
    mask = torch.tensor([[1.0, 0.0, 1.0, 1.0, 1.0]])
    obs = torch.randn(1, N_MAX, OBS_DIM) * mask.unsqueeze(-1)
    present = [0, 2, 3, 4]
    permuted = obs.clone()
    permuted[0, present] = obs[0, [4, 0, 3, 2]]
    torch.testing.assert_close(net(obs, mask), net(permuted, mask))
    moved = torch.zeros_like(obs)  # the same agents in other slots
    moved[0, :4] = obs[0, present]
    torch.testing.assert_close(net(obs, mask), net(moved, torch.tensor([[1.0, 1.0, 1.0, 1.0, 0.0]])))


@pytest.mark.parametrize("embedding", POOLED, ids=str)
def test_pooled_embeddings_give_each_team_the_same_output_whatever_the_batch_s_widest_team(embedding):
    """The graph embedding works on the slots up to the last one any team of the batch fills: a team's embedding
    is the same in a batch of small teams as beside a team that fills every slot, and as in a wider padding."""
    torch.manual_seed(0)
    net = make_team_embedding(embedding, OBS_DIM, N_MAX)
    small = torch.tensor([[1.0, 1.0, 0.0, 0.0, 0.0], [1.0, 0.0, 1.0, 0.0, 0.0]])
    full = torch.ones(1, N_MAX)
    obs = torch.randn(3, N_MAX, OBS_DIM) * torch.cat([small, full]).unsqueeze(-1)
    alone = net(obs[:2], small)
    torch.testing.assert_close(alone, net(obs, torch.cat([small, full]))[:2])
    wider = torch.cat([obs[:2], torch.zeros(2, 3, OBS_DIM)], dim=1)
    torch.testing.assert_close(alone, net(wider, torch.cat([small, torch.zeros(2, 3)], dim=1)))
    torch.testing.assert_close(net(obs[:1, :2], small[:1, :2]), alone[:1])
    assert torch.isfinite(net(obs[:1], torch.zeros(1, N_MAX))).all(), "a batch with no agent at all"


@pytest.mark.parametrize("embedding", POOLED, ids=str)
def test_pooled_embeddings_take_the_same_values_and_gradients_when_every_slot_is_filled(embedding):
    """A batch whose teams fill every slot skips the masking (one adjacency, pooling by segment offsets): its
    output and parameter gradients match the same teams with an empty slot among theirs, which is masked."""
    torch.manual_seed(0)
    net = make_team_embedding(embedding, OBS_DIM, N_MAX)
    filled = torch.randn(4, 3, OBS_DIM)  # 4 teams of 3 in 3 slots
    gapped = torch.cat([filled[:, :1], torch.zeros(4, 1, OBS_DIM), filled[:, 1:]], dim=1)  # slot 1 empty
    gapped_mask = torch.tensor([[1.0, 0.0, 1.0, 1.0]]).expand(4, -1)

    def output_and_gradients(obs, mask):
        net.zero_grad()
        out = net(obs, mask)
        out.square().sum().backward()
        return out, [p.grad.clone() for p in net.parameters()]

    out, grads = output_and_gradients(filled, torch.ones(4, 3))
    gapped_out, gapped_grads = output_and_gradients(gapped, gapped_mask)
    torch.testing.assert_close(out, gapped_out)
    for grad, gapped_grad in zip(grads, gapped_grads, strict=True):
        torch.testing.assert_close(grad, gapped_grad)


def test_concat_embedding_zeroes_absent_slots():
    net = make_team_embedding("concat", OBS_DIM, N_MAX)
    _, mask, obs, _ = team_batch(3)
    noisy = obs + (1 - mask).unsqueeze(-1) * 7.0
    assert net(noisy, mask).shape == (3, N_MAX * OBS_DIM)
    torch.testing.assert_close(net(noisy, mask), obs.flatten(1))


@pytest.mark.parametrize(
    "spec, message",
    [
        ("gnn", "unknown team embedding 'gnn'; known embeddings: concat, mean, graph"),
        ({"type": "graph", "conv": "sage"}, "unknown graph conv 'sage'; known convs: gat, gcn, graph"),
        ({"type": "graph", "pool": "sum"}, "unknown graph pool 'sum'"),
        ({"type": "graph", "layers": 4}, "layers must be 1, 2 or 3"),
        ({"type": "mean", "conv": "gat"}, "team embedding 'mean' does not take conv"),
    ],
)
def test_bad_embedding_specs_raise(spec, message):
    with pytest.raises(ValueError) as error:
        parse_embedding_spec(spec)
    assert message in str(error.value)


def test_agent_network_shapes_and_agent_id():
    net = AgentQNetwork(OBS_DIM, N_ACTIONS, N_MAX, hidden=(16,), obs_agent_id=True)
    same_obs = torch.ones(2, N_MAX, OBS_DIM)
    q = net(same_obs)
    assert q.shape == (2, N_MAX, N_ACTIONS)
    assert not torch.allclose(q[:, 0], q[:, 1])  # same observation, different slot id
    anonymous = AgentQNetwork(OBS_DIM, N_ACTIONS, N_MAX, hidden=(16,), obs_agent_id=False)
    q = anonymous(same_obs)
    torch.testing.assert_close(q[:, 0], q[:, 1])


def test_agent_network_computes_only_the_slots_the_batch_fills():
    """With the team's mask, slots past the last one any row fills come out 0 and the others as without it, with
    the slots' own ids or ids passed in (SEAC's), also with reused ids, and gradients reach the same weights."""
    torch.manual_seed(0)
    net = AgentQNetwork(OBS_DIM, N_ACTIONS, N_MAX, hidden=(16,), obs_agent_id=True)
    obs = torch.randn(2, N_MAX, OBS_DIM)
    mask = torch.tensor([[1.0, 1.0, 0.0, 0.0, 0.0], [1.0, 0.0, 1.0, 0.0, 0.0]])  # slots 0-2 used
    full = net(obs)
    trimmed = net(obs, mask=mask)
    torch.testing.assert_close(trimmed[:, :3], full[:, :3])
    assert (trimmed[:, 3:] == 0).all()
    ids = torch.eye(N_MAX)[torch.tensor([4, 3, 2, 1, 0])].expand(2, N_MAX, N_MAX)
    torch.testing.assert_close(net(obs, ids, mask)[:, :3], net(obs, ids)[:, :3])
    reuse_trained_ids(net, trained_slots=2)
    torch.testing.assert_close(net(obs, mask=mask)[:, :3], net(obs)[:, :3])
    assert not torch.allclose(net(obs, mask=mask)[:, 2], full[:, 2]), "slot 2 now acts with slot 0's id"
    net(obs, mask=mask).sum().backward()
    trimmed_grads = [p.grad.clone() for p in net.parameters()]
    net.zero_grad()
    net(obs)[:, :3].sum().backward()  # the used slots only, computed on every slot
    for trimmed_grad, p in zip(trimmed_grads, net.parameters(), strict=True):
        torch.testing.assert_close(trimmed_grad, p.grad)
    net.zero_grad()
    net(obs).sum().backward()
    assert not torch.allclose(trimmed_grads[0], net.q[0].weight.grad), "unused slots would have moved the weights"
    nobody = net(obs, mask=torch.zeros(2, N_MAX))
    assert nobody.shape == (2, N_MAX, N_ACTIONS) and (nobody[:, 1:] == 0).all()


def test_recurrent_agent_unrolls_sequences_like_single_steps():
    torch.manual_seed(0)
    net = RecurrentAgentQNetwork(OBS_DIM, N_ACTIONS, N_MAX, hidden=(16, 8))
    obs = torch.randn(2, 6, N_MAX, OBS_DIM)
    h0 = torch.randn(2, N_MAX, 8)
    q_sequence, h_sequence = net(obs, h0)
    assert q_sequence.shape == (2, 6, N_MAX, N_ACTIONS) and h_sequence.shape == (2, N_MAX, 8)
    h, steps = h0, []
    for t in range(6):
        q_t, h = net(obs[:, t : t + 1], h)
        steps.append(q_t)
    torch.testing.assert_close(torch.cat(steps, dim=1), q_sequence)
    torch.testing.assert_close(h, h_sequence)
    q_other_past, _ = net(torch.cat([torch.zeros_like(obs[:, :1]), obs[:, 1:]], dim=1), h0)
    assert not torch.allclose(q_other_past[:, -1], q_sequence[:, -1])  # the GRU remembers the first step


def test_double_q_td_target_matches_hand_computation():
    q_next_online = torch.tensor([[[1.0, 2.0], [3.0, 0.0]]])  # argmax: agent 0 -> 1, agent 1 -> 0
    q_next_target = torch.tensor([[[5.0, 6.0], [7.0, 8.0]]])
    next_values = double_q_next_values(q_next_online, q_next_target)
    torch.testing.assert_close(next_values, torch.tensor([[6.0, 7.0]]))
    # n_step = 2: discount 0.9^2 = 0.81; team reward 1 for both agents
    y = td_targets(torch.tensor([1.0]), torch.tensor([0.81]), torch.tensor([0.0]), next_values)
    torch.testing.assert_close(y, torch.tensor([[1 + 0.81 * 6, 1 + 0.81 * 7]]))
    y_end = td_targets(torch.tensor([1.0]), torch.tensor([0.81]), torch.tensor([1.0]), next_values)
    torch.testing.assert_close(y_end, torch.tensor([[1.0, 1.0]]))


def test_munchausen_target_matches_hand_computation():
    tau, alpha, l0, gamma = 1.0, 0.9, -1.0, 0.9
    q_target_now = torch.tensor([[[1.0, 2.0]]])  # one agent, took action 0
    q_target_next = torch.tensor([[[0.0, math.log(3.0)]]])
    log_pi = log_policy_of_actions(q_target_now, torch.tensor([[0]]), tau)
    expected_log_pi = 1.0 - math.log(math.exp(1.0) + math.exp(2.0))  # -1.3133
    torch.testing.assert_close(log_pi, torch.tensor([[expected_log_pi]]))
    bonus = munchausen_bonus(log_pi, alpha, tau, l0)
    torch.testing.assert_close(bonus, torch.tensor([[alpha * -1.0]]))  # tau log pi clipped at l0 = -1
    soft = soft_next_values(q_target_next, tau)
    torch.testing.assert_close(soft, torch.tensor([[math.log(4.0)]]))  # tau * logsumexp(q / tau)
    y = td_targets(torch.tensor([1.0]) + bonus, torch.tensor([gamma]), torch.tensor([0.0]), soft)
    torch.testing.assert_close(y, torch.tensor([[1.0 - 0.9 + gamma * math.log(4.0)]]))
    # an unclipped bonus: tau = 0.5, log pi(1) = 2/0.5 - logsumexp([2, 4]) = -0.1269
    small = munchausen_bonus(log_policy_of_actions(q_target_now, torch.tensor([[1]]), 0.5), alpha, 0.5, l0)
    torch.testing.assert_close(small, torch.tensor([[alpha * 0.5 * (4.0 - math.log(math.exp(2.0) + math.exp(4.0)))]]))


def test_masked_mse_ignores_absent_agents():
    predictions = torch.tensor([[1.0, 2.0, 50.0]])
    targets = torch.tensor([[0.0, 4.0, -50.0]])
    weights = torch.tensor([[1.0, 1.0, 0.0]])
    assert masked_mse(predictions, targets, weights).item() == pytest.approx((1 + 4) / 2)


def make_module(inference_only=False, **model_config):
    observation_space = gym.spaces.Dict(
        {
            "obs": gym.spaces.Box(-1, 1, (N_MAX, OBS_DIM), np.float32),
            "mask": gym.spaces.Box(0, 1, (N_MAX,), np.float32),
            "state": gym.spaces.Box(-1, 1, (STATE_DIM,), np.float32),
            "last_action": gym.spaces.Box(0, 1, (N_MAX, N_ACTIONS), np.float32),
        }
    )
    return TeamQModule(
        observation_space=observation_space,
        action_space=gym.spaces.MultiDiscrete([N_ACTIONS] * N_MAX),
        inference_only=inference_only,
        model_config={**rl_algos.get_config("iql").model_config, **model_config},
    )


def test_epsilon_schedule_and_absent_agents_never_act():
    torch.manual_seed(0)
    module = make_module(epsilon=[[0, 1.0], [1000, 0.1]])
    _, mask, obs, state = team_batch(512)
    batch = {Columns.OBS: {"obs": obs, "mask": mask, "state": state}}
    greedy = module.forward_inference(batch)[Columns.ACTIONS]
    torch.testing.assert_close(greedy, module.agent(obs).argmax(-1) * mask.long())
    for t, epsilon in [(0, 1.0), (500, 0.55), (1000, 0.1), (5000, 0.1)]:
        actions = module.forward_exploration(batch, t=t)[Columns.ACTIONS]
        assert module.epsilon_schedule.get_current_value() == pytest.approx(epsilon)
        assert not actions[mask == 0].any()
        present = mask.bool()
        differs = (actions != greedy)[present].float().mean().item()
        # a random action differs from the greedy one with probability epsilon * (1 - 1 / A)
        assert differs == pytest.approx(epsilon * (1 - 1 / N_ACTIONS), abs=0.05)


def test_mixer_options_reach_the_mixer_and_old_checkpoints_keep_theirs():
    normalised = make_module(mixer="qmix")
    raw = make_module(mixer="qmix", hypernet_input_norm=False, mixer_pooling="mean", mixer_q_norm=True)
    old_model_config = dict(rl_algos.get_config("qmix").model_config)
    for option in ("hypernet_input_norm", "mixer_pooling", "mixer_q_norm"):
        del old_model_config[option]  # a checkpoint written before the options existed
    old = TeamQModule(
        observation_space=normalised.observation_space,
        action_space=normalised.action_space,
        model_config=old_model_config,
    )
    assert isinstance(normalised.mixer.input_norm, torch.nn.LayerNorm)
    assert isinstance(raw.mixer.input_norm, torch.nn.Identity)
    assert isinstance(old.mixer.input_norm, torch.nn.Identity)
    assert (normalised.mixer.mixer_pooling, raw.mixer.mixer_pooling, old.mixer.mixer_pooling) == ("sum", "mean", "sum")
    assert (normalised.mixer.q_norm, raw.mixer.q_norm, old.mixer.q_norm) == (False, True, False)
    assert rl_algos.get_config("gum").training(mixer_pooling="mean").model_config["mixer_pooling"] == "mean"


def test_env_runner_module_holds_the_agent_network_only():
    runner = make_module(inference_only=True, mixer="qmix")
    learner = make_module(inference_only=False, mixer="qmix", team_embedding="graph")
    learner.make_target_networks()
    assert runner.mixer is None and isinstance(learner.mixer, QMixer)
    runner_keys = set(runner.state_dict())
    assert runner_keys == {k for k in learner.state_dict() if k.startswith("agent.")}
    assert set(learner.get_target_network_pairs()[0]) == {learner.agent, learner._target_agent}


def test_module_feeds_the_last_action_and_carries_the_recurrent_state():
    torch.manual_seed(0)
    module = make_module(recurrent=True, obs_last_action=True, hidden=(16,))
    assert module.is_stateful() and module.get_initial_state()["h"].shape == (N_MAX, 16)
    _, mask, obs, state = team_batch(4)
    last_action = torch.nn.functional.one_hot(torch.randint(0, N_ACTIONS, (4, N_MAX)), N_ACTIONS).float()
    batch = {
        Columns.OBS: {
            "obs": obs[:, None],
            "mask": mask[:, None],
            "state": state[:, None],
            "last_action": last_action[:, None],
        },
        Columns.STATE_IN: {"h": torch.zeros(4, N_MAX, 16)},
    }
    out = module.forward_inference(batch)
    assert out[Columns.ACTIONS].shape == (4, 1, N_MAX) and out[Columns.STATE_OUT]["h"].shape == (4, N_MAX, 16)
    assert out[Columns.STATE_OUT]["h"].abs().sum() > 0
    batch[Columns.OBS]["last_action"] = torch.roll(last_action, 1, dims=-1)[:, None]
    assert not torch.equal(module.forward_inference(batch)[Columns.STATE_OUT]["h"], out[Columns.STATE_OUT]["h"])


def test_mode_switches_reach_every_submodule_and_repeats_are_skipped():
    class Team(SkipRepeatedModeSwitch):
        def __init__(self):
            super().__init__()
            self.agent = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.5))

    team = Team()
    team.eval()
    assert not any(m.training for m in team.modules())
    team.train()
    assert all(m.training for m in team.modules())
    team.agent[1].eval()  # a submodule switched on its own is not seen by the root: a repeat is skipped
    team.train()
    assert not team.agent[1].training
