"""`OptionGroup`: a set of `.training()` options that several algorithms take, declared once."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, ClassVar


class OptionGroup:
    """A set of `.training()` options several algorithms take (replay, recurrent agents, greedy unmixing, the
    actor-critics' networks, fine-tuning): the options and their defaults, the RLlib settings the group changes,
    its checks and the keys it hands the RLModule's `model_config`, each declared once. An algorithm's config lists
    the groups it takes in `option_groups` (`TeamAlgorithmConfig`); which algorithms take a group is derived from
    those lists (`TeamAlgorithmConfig.algorithms_taking`), never kept by hand.

    Groups are never instantiated: a subclass sets `title` and `defaults` and overrides the class methods it needs.
    """

    title: ClassVar[str] = ""  # what the group is about, in messages: "recurrent agents"
    defaults: ClassVar[Mapping[str, Any]] = {}
    every_group: ClassVar[list[type[OptionGroup]]] = []

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        OptionGroup.every_group.append(cls)

    @classmethod
    def set_defaults(cls, config: Any) -> None:
        """Give `config` the group's options at their defaults (copies: a config never shares a mutable default)
        and the RLlib settings the group changes (`configure`)."""
        for name, value in cls.defaults.items():
            setattr(config, name, copy.deepcopy(value))
        cls.configure(config)

    @classmethod
    def configure(cls, config: Any) -> None:
        """Set the RLlib settings an algorithm taking this group starts from (none unless overridden)."""

    @classmethod
    def validate(cls, config: Any) -> None:
        """Raise ValueError, saying what to do, when `config`'s values of the group's options are bad."""

    @classmethod
    def model_config(cls, config: Any) -> dict[str, Any]:
        """The keys the group adds to the RLModule's `model_config`."""
        return {}

    @classmethod
    def owning(cls, option: str) -> type[OptionGroup] | None:
        """The group that declares `option`, or None."""
        return next((group for group in OptionGroup.every_group if option in group.defaults), None)
