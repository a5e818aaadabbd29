"""One list of split names, one structured_2_4 rule: the registry, the config, the theory and the CLIs agree."""

import pytest

from fpe_theory import Problem
from fpe_theory.families import check_family
from fpe_train.engine.config import SPLIT_NAMES, TrainConfig
from fpe_train.fpe.names import CONTROL_SPLITS, PARTITION_SPLITS
from fpe_train.fpe.splits import SPLITS, check_split


def test_split_names_are_the_registry_keys():
    assert tuple(SPLITS) == SPLIT_NAMES == PARTITION_SPLITS + CONTROL_SPLITS


def test_train_cli_split_help_lists_the_registry():
    from fpe_train.engine._cli import train

    (option,) = [p for p in train.params if p.name == "splits"]
    assert all(name in option.help for name in SPLITS) and option.multiple


@pytest.mark.parametrize(
    "attempt",
    [
        lambda: check_family(Problem(m=16, k=2, alpha=4), "structured_2_4"),
        lambda: check_split("structured_2_4", 4, 16),
        lambda: TrainConfig(clauses=4, k=4, alpha=4, splits=("structured_2_4",)),
    ],
)
def test_structured_2_4_needs_alpha_2_says_one_thing(attempt):
    with pytest.raises(ValueError) as exc:
        attempt()
    assert str(exc.value) == "alpha=4: structured_2_4 needs alpha=2"
