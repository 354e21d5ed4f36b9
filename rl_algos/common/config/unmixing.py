"""`UnmixingConfig`: greedy unmixing's options, shared by `gum` and the actor-critics that take `unmix`."""

from __future__ import annotations

from typing import Any

from ray.rllib.algorithms.algorithm_config import NotProvided

from rl_algos.common.config.team import TeamAlgorithmConfig
from rl_algos.common.losses.unmixing import UNMIX


class UnmixingConfig(TeamAlgorithmConfig):
    """Base of the configs whose learners weigh an independent estimator against a pooled one by their conservative
    gaps (`rl_algos.common.losses.unmixing`). `.training(...)` options:

    - `unmix`: "inverse" | "direct" | "lagrange", how the estimators are weighted (None: off, where the algorithm
      allows it); `unmix_eps` (1e-3) in the inverse weights; `target_gap` (1.0) for lagrange;
    - `cql_alpha` (1.0; 0 turns conservatism off): the weight of each estimator's gap in its critic's loss.
    """

    def __init__(self, algo_class=None):
        super().__init__(algo_class=algo_class)
        self.unmix: str | None = None
        self.unmix_eps = 1e-3
        self.target_gap = 1.0
        self.cql_alpha = 1.0

    def training(
        self,
        *,
        unmix: str | None = NotProvided,
        unmix_eps: float = NotProvided,
        target_gap: float = NotProvided,
        cql_alpha: float = NotProvided,
        **kwargs,
    ) -> UnmixingConfig:
        super().training(**kwargs)
        self._set_provided(locals())
        return self

    @property
    def _model_config_auto_includes(self) -> dict[str, Any]:
        return super()._model_config_auto_includes | {"unmix": self.unmix is not None}

    def validate(self) -> None:
        super().validate()
        if self.unmix is not None and self.unmix not in UNMIX:
            raise ValueError(f"unmix={self.unmix!r} is unknown; use one of {', '.join(UNMIX)} (or None: off)")
        if not self.cql_alpha >= 0 or not self.unmix_eps > 0:
            raise ValueError(f"cql_alpha ({self.cql_alpha}) must be >= 0 and unmix_eps ({self.unmix_eps}) > 0")
