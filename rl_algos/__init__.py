"""One sub-package per algorithm (AlgorithmConfig + Algorithm + Learner); shared pieces in `rl_algos.common`.

`ALGORITHMS` maps each algorithm's name to its config class; `get_config(name)` returns a ready config:

    config = rl_algos.get_config("qmix").environment("team", env_config={...}).training(team_embedding="graph")
    algo = config.build_algo()
"""

from __future__ import annotations

from ray.rllib.algorithms.algorithm_config import AlgorithmConfig

import envs  # noqa: F401  (registers the "team" env)
from rl_algos.central_v import CentralVConfig
from rl_algos.central_v_sac import CentralVSACConfig
from rl_algos.coma import COMAConfig
from rl_algos.gum import GUMConfig
from rl_algos.iac import IACConfig
from rl_algos.iac_awac import IACAWACConfig
from rl_algos.ippo import IPPOConfig
from rl_algos.iql import IQLConfig
from rl_algos.lica import LICAConfig
from rl_algos.maddpg import MADDPGConfig
from rl_algos.mappo import MAPPOConfig
from rl_algos.qmix import QMIXConfig
from rl_algos.vdn import VDNConfig

ALGORITHMS: dict[str, type[AlgorithmConfig]] = {
    config.name: config
    for config in (
        IQLConfig,
        VDNConfig,
        QMIXConfig,
        GUMConfig,
        IACConfig,
        IACAWACConfig,
        CentralVConfig,
        CentralVSACConfig,
        IPPOConfig,
        MAPPOConfig,
        COMAConfig,
        LICAConfig,
        MADDPGConfig,
    )
}


def get_config(name: str) -> AlgorithmConfig:
    """A fresh default config of the algorithm called `name` (see `ALGORITHMS`)."""
    if name not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {name!r}; known algorithms: {', '.join(ALGORITHMS)}")
    return ALGORITHMS[name]()
