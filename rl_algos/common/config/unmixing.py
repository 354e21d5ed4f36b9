"""`UnmixingOptions`: greedy unmixing's options, taken by `gum` and the actor-critics that offer `unmix`."""

from __future__ import annotations

from typing import Any, ClassVar

from rl_algos.common.config.options import OptionGroup
from rl_algos.common.losses.value import UNMIX


class UnmixingOptions(OptionGroup):
    """The option group of the algorithms whose learners weigh an independent estimator against a pooled one by
    their conservative gaps (`rl_algos.common.losses.value`):

    - `unmix`: "inverse" | "direct" | "lagrange", how the estimators are weighted, or "independent" | "pooled",
      fixed weights (1, 0) | (0, 1) that keep one estimator's loss alone, the ablations of the weighting (None: off,
      where the algorithm allows it); `unmix_eps` (1e-3) in the inverse weights; `target_gap` (1.0) for lagrange;
    - `cql_alpha` (1.0; 0 turns conservatism off): the weight of each estimator's gap in its critic's loss.
    """

    title = "greedy unmixing"
    defaults: ClassVar[dict[str, Any]] = {"unmix": None, "unmix_eps": 1e-3, "target_gap": 1.0, "cql_alpha": 1.0}

    @classmethod
    def model_config(cls, config: Any) -> dict[str, Any]:
        return {"unmix": config.unmix is not None}

    @classmethod
    def validate(cls, config: Any) -> None:
        if config.unmix is not None and config.unmix not in UNMIX:
            raise ValueError(f"unmix={config.unmix!r} is unknown; use one of {', '.join(UNMIX)} (or None: off)")
        if not config.cql_alpha >= 0 or not config.unmix_eps > 0:
            raise ValueError(f"cql_alpha ({config.cql_alpha}) must be >= 0 and unmix_eps ({config.unmix_eps}) > 0")
