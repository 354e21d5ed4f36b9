"""Agent ids at a larger team: the slots a training team never sat in can act with trained ids."""

import pytest
import torch

import envs
import rl_algos
from policies.networks.agent_ids import AppendAgentIds, reuse_trained_ids, reused_id_table
from policies.networks.agent_network import AgentQNetwork
from rl_algos.common.evaluation.team_evaluation import checkpoint_module, greedy_episodes, trained_slots
from tests.test_value_training import learner_module, quick_config

MATRIX = {"scenario": "matrix", "n_agents": 2, "n_max": 4, "game": "climbing", "reward": "mean"}


def test_reused_ids_keep_the_trained_slots_and_cycle_through_them_above():
    assert reused_id_table(6, 3).argmax(dim=-1).tolist() == [0, 1, 2, 0, 1, 2]
    assert torch.equal(reused_id_table(4, 4), torch.eye(4))
    with pytest.raises(ValueError, match="between 1 and n_max=4"):
        reused_id_table(4, 5)


def test_an_agent_in_an_untrained_slot_acts_as_the_trained_agent_it_borrows_the_id_of():
    torch.manual_seed(0)
    network = AgentQNetwork(obs_dim=5, n_actions=3, n_max=6)
    obs = torch.randn(1, 1, 5).expand(1, 6, 5)  # every slot sees the same observation
    own = network(obs)  # [1, 6, 3]
    assert not torch.allclose(own[0, 3], own[0, 0]), "slot 3's own id gives it other Qs"
    assert reuse_trained_ids(network, trained_slots=3) == 1
    reused = network(obs)
    assert torch.allclose(reused[0, :3], own[0, :3]), "the trained slots are unchanged"
    assert torch.allclose(reused[0, 3:], own[0, :3]), "slots 3, 4, 5 act as slots 0, 1, 2"
    assert reuse_trained_ids(torch.nn.Linear(2, 2), 3) == 0


def test_trained_slots_follow_the_slot_mode():
    assert trained_slots({**MATRIX, "n_agents": [2, 3]}) == 3
    assert trained_slots({**MATRIX, "slots": "random"}) == 4


def _id_sensitive_checkpoint(tmp_path) -> str:
    """A QMIX checkpoint at `MATRIX` (a team of 2 in 4 slots) whose agents pick action 2 everywhere, except through
    the first-layer weights of ids 2 and 3 (which a team of 2 in slots 0, 1 never trains), which pick action 0."""
    trainer = quick_config("qmix", MATRIX).build_algo()
    q = learner_module(trainer).agent.q  # Linear, ReLU, Linear, ReLU, Linear
    obs_dim = q[0].in_features - MATRIX["n_max"]
    with torch.no_grad():
        for layer in (q[0], q[2], q[4]):
            layer.weight.zero_()
            layer.bias.zero_()
        q[0].weight[0, obs_dim + 2 :] = 1.0  # hidden unit 0: on for ids 2 and 3 only
        q[2].weight[0, 0] = 1.0
        q[4].weight[0, 0] = 10.0  # action 0's Q: 10 with ids 2 and 3
        q[4].bias.copy_(torch.tensor([0.0, 1.0, 2.0]))
    checkpoint = trainer.save_to_path(str(tmp_path / "checkpoint"))
    trainer.stop()
    return checkpoint


def test_playing_with_reused_ids_changes_only_the_untrained_slots_actions(ray_session, tmp_path):
    checkpoint = _id_sensitive_checkpoint(tmp_path)
    at_4 = {**MATRIX, "n_agents": 4}
    for agent_ids, expected in (("own", [2, 2, 0, 0]), ("reuse", [2, 2, 2, 2])):
        module, _ = checkpoint_module(checkpoint, at_4, agent_ids=agent_ids)
        (episode,) = greedy_episodes(module, at_4, episodes=1, seed=0)
        assert episode.actions[0].tolist() == expected, agent_ids
    with pytest.raises(ValueError, match="agent_ids='theirs' is unknown; use one of own, reuse"):
        checkpoint_module(checkpoint, at_4, agent_ids="theirs")


def test_agent_ids_appended_after_the_features():
    ids = AppendAgentIds(3)(torch.zeros(2, 3, 1))
    assert ids.shape == (2, 3, 4) and torch.equal(ids[0, :, 1:], torch.eye(3))


@pytest.mark.parametrize("algo", ["qmix", "gum", "central_v", "central_v_sac", "maddpg"])
def test_finetune_ids_reuse_gives_every_id_network_of_the_module_the_reused_table(algo):
    config = rl_algos.get_config(algo).environment("team", env_config={**MATRIX, "n_agents": 4})
    config.training(finetune_ids="reuse", finetune_trained_slots=2, finetune_kl=1.0)
    config.validate()
    env = envs.make_team_env(**{**MATRIX, "n_agents": 4})
    module = config.get_default_rl_module_spec().module_class(
        observation_space=env.observation_space, action_space=env.action_space, model_config=config.model_config
    )
    tables = [m.ids for m in module.modules() if isinstance(m, AppendAgentIds)]
    assert len(tables) >= 2, "the policy network, its reference and target copies or critics"
    for table in tables:
        assert table.argmax(dim=-1).tolist() == [0, 1, 0, 1]
    plain = rl_algos.get_config(algo).environment("team", env_config={**MATRIX, "n_agents": 4})
    own = plain.get_default_rl_module_spec().module_class(
        observation_space=env.observation_space, action_space=env.action_space, model_config=plain.model_config
    )
    assert all(torch.equal(m.ids, torch.eye(4)) for m in own.modules() if isinstance(m, AppendAgentIds))


@pytest.mark.parametrize(
    "training, message",
    [
        ({"finetune_ids": "theirs"}, "finetune_ids='theirs' is unknown; use one of own, reuse"),
        ({"finetune_ids": "reuse"}, "finetune_ids='reuse' needs finetune_trained_slots"),
        ({"finetune_ids": "reuse", "finetune_trained_slots": 5}, "finetune_trained_slots=5 is above n_max=4"),
    ],
)
def test_bad_finetune_ids_options_raise(training, message):
    with pytest.raises(ValueError, match=message):
        rl_algos.get_config("qmix").environment("team", env_config=MATRIX).training(**training).validate()


def test_fine_tuning_with_reused_ids_starts_from_the_zero_shot_policy_and_keeps_its_ids(ray_session, tmp_path):
    checkpoint = _id_sensitive_checkpoint(tmp_path)
    at_4 = {**MATRIX, "n_agents": 4}
    zero_shot, _ = checkpoint_module(checkpoint, at_4, agent_ids="reuse")
    (expected,) = greedy_episodes(zero_shot, at_4, episodes=1, seed=0)
    assert expected.actions[0].tolist() == [2, 2, 2, 2]
    for ids, actions in (("own", [2, 2, 0, 0]), ("reuse", [2, 2, 2, 2])):
        training = {"finetune_ids": ids, "finetune_trained_slots": 2} if ids == "reuse" else {}
        trainer = quick_config("qmix", at_4, **training).build_algo()
        trainer.load_pretrained(checkpoint)
        acting = [m.ids.argmax(dim=-1).tolist() for m in trainer.env_runner.module.modules() if hasattr(m, "ids")]
        assert acting == [[0, 1, 0, 1] if ids == "reuse" else [0, 1, 2, 3]], "the env runner acts with those ids"
        finetuned = trainer.save_to_path(str(tmp_path / f"finetuned-{ids}"))  # before any update: the start
        trainer.stop()
        for agent_ids in ("own", "reuse"):
            module, _ = checkpoint_module(finetuned, at_4, agent_ids=agent_ids)
            (episode,) = greedy_episodes(module, at_4, episodes=1, seed=0)
            # own ids: the run starts from untrained id weights, whichever way its checkpoint is read (its team
            # trained all 4 slots); reused: where zero-shot is
            assert episode.actions[0].tolist() == actions, (ids, agent_ids)
