"""Behaviour models clone a deterministic behaviour policy from a synthetic replay, on present agents only."""

import pytest
import torch

from policies.networks.behaviour import BEHAVIOUR_MODELS, make_behaviour_model

N_MAX, OBS_DIM, N_ACTIONS = 4, 6, 5
POLICY = torch.Generator().manual_seed(1234)
POLICY_WEIGHTS = torch.randn(OBS_DIM, N_ACTIONS, generator=POLICY)
POLICY_ID_BIAS = torch.randn(N_MAX, N_ACTIONS, generator=POLICY)


def synthetic_replay(size=2048, seed=0):
    """Observations of 1..N_MAX present agents and the actions of one fixed deterministic policy that depends
    on the observation and the agent id; absent agents carry junk actions that must not be learnt."""
    g = torch.Generator().manual_seed(seed)
    obs = torch.randn(size, N_MAX, OBS_DIM, generator=g)
    n_present = torch.randint(1, N_MAX + 1, (size,), generator=g)
    mask = (torch.arange(N_MAX) < n_present.unsqueeze(1)).float()
    actions = (obs @ POLICY_WEIGHTS + POLICY_ID_BIAS).argmax(-1)
    junk = torch.randint(0, N_ACTIONS, actions.shape, generator=g)
    actions = torch.where(mask.bool(), actions, junk)
    return obs * mask.unsqueeze(-1), actions, mask


@pytest.mark.parametrize("name", BEHAVIOUR_MODELS)
def test_behaviour_model_clones_a_deterministic_policy(name):
    torch.manual_seed(0)
    model = make_behaviour_model(name, OBS_DIM, N_ACTIONS, N_MAX)
    obs, actions, mask = synthetic_replay()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(600):
        index = torch.randint(0, len(obs), (128,))
        loss, _ = model.loss(obs[index], actions[index], mask[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    test_obs, test_actions, test_mask = synthetic_replay(size=512, seed=1)
    with torch.no_grad():
        _, accuracy, probs, samples = model.fit(test_obs, test_actions, test_mask, num_samples=4)
    assert accuracy > 0.95
    assert samples.shape == (4, 512, N_MAX) and probs.shape == (512, N_MAX, N_ACTIONS)
    torch.testing.assert_close(probs.sum(-1), torch.ones(512, N_MAX))
    prob_of_replayed = probs.gather(-1, test_actions.long().unsqueeze(-1)).squeeze(-1)  # [B, n]
    assert ((prob_of_replayed > 0.5).float() * test_mask).sum() / test_mask.sum() > 0.9
    sampled_accuracy = ((samples == test_actions).float() * test_mask).sum() / (4 * test_mask.sum())
    assert sampled_accuracy > 0.9


def test_unknown_behaviour_model_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown behaviour_model 'gan'; known models: bc, vae"):
        make_behaviour_model("gan", OBS_DIM, N_ACTIONS, N_MAX)


@pytest.mark.parametrize("name", BEHAVIOUR_MODELS)
def test_padded_agents_change_neither_the_loss_nor_its_gradient(name):
    torch.manual_seed(0)
    model = make_behaviour_model(name, OBS_DIM, N_ACTIONS, N_MAX)
    obs, actions, mask = synthetic_replay(size=16)
    absent = ~mask.bool()
    other_actions = torch.where(absent, (actions + 1) % N_ACTIONS, actions)
    other_obs = obs + absent.unsqueeze(-1) * 9.0
    results = []
    for o, a in [(obs, actions), (other_obs, other_actions)]:
        model.zero_grad()
        torch.manual_seed(1)  # the VAE's latent noise
        loss, accuracy = model.loss(o, a, mask)
        loss.backward()
        results.append((loss.detach(), accuracy, [p.grad.clone() for p in model.parameters()]))
    torch.testing.assert_close(results[0][0], results[1][0])
    torch.testing.assert_close(results[0][1], results[1][1])
    for a, b in zip(results[0][2], results[1][2], strict=True):
        torch.testing.assert_close(a, b)
