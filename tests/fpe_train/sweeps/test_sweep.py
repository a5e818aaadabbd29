"""Sweep files: the grid, sizes, coupled axes, overrides, errors with line numbers, shipped files."""

import itertools
from pathlib import Path

import pytest

from fpe_train.engine.config import TrainConfig
from fpe_train.sweeps.sweep import load_sweep

EXPERIMENTS = Path(__file__).parents[3] / "fpe_train" / "sweeps" / "experiments"
SHIPPED = (
    "fig3a",
    "fig3b",
    "fig3c",
    "table_a1_a2",
    "fig5_vision",
    "fig6ad_alpha",
    "fig6b_split_timing",
    "table_a3_depth",
    "table_a5_2_4",
    "rewiring",
    "controls",
    "case_study",
)

GRID = """
[sweep]
name = "demo"
description = "a demo"

[base]
task = "boolean"
clauses = 4
k = 2
splits = ["random"]
epochs = 3

[grid]
r = [2, 4, 8]
alpha = [2, 4]

[sizes.quick]
epochs = 1
[sizes.quick.grid]
r = [2, 4]

[sizes.paper]
trials = 7
"""


def write(tmp_path, text, name="s.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_grid_product_in_file_order(tmp_path):
    s = load_sweep(write(tmp_path, GRID), "paper")
    expected = [(n, a) for n, a in itertools.product([2, 4, 8], [2, 4])]  # first axis slowest
    assert [(c.r, c.alpha) for c in s.configs] == expected
    assert all(c.trials == 7 and c.epochs == 3 and c.task == "boolean" for c in s.configs)
    assert (s.name, s.size, s.description, s.sizes) == ("demo", "paper", "a demo", ("quick", "paper"))
    assert all(isinstance(c, TrainConfig) for c in s.configs)


def test_size_overrides_base_and_grid(tmp_path):
    s = load_sweep(write(tmp_path, GRID), "quick")
    assert [(c.r, c.alpha) for c in s.configs] == [(2, 2), (2, 4), (4, 2), (4, 4)]
    assert {c.epochs for c in s.configs} == {1} and {c.trials for c in s.configs} == {5}  # TrainConfig default


def test_overrides_win_and_collapse_an_axis(tmp_path):
    s = load_sweep(write(tmp_path, GRID), "quick", overrides={"alpha": 4, "seed": 3})
    assert [(c.r, c.alpha, c.seed) for c in s.configs] == [(2, 4, 3), (4, 4, 3)]


def test_coupled_axis_sets_fields_together(tmp_path):
    text = GRID.replace(
        "alpha = [2, 4]", "schedule = [{warmup_epochs = 1, epochs = 5}, {warmup_epochs = 4, epochs = 2}]"
    )
    s = load_sweep(write(tmp_path, text.replace("epochs = 3\n", "")), "paper")
    assert [(c.r, c.warmup_epochs, c.epochs) for c in s.configs] == [
        (2, 1, 5),
        (2, 4, 2),
        (4, 1, 5),
        (4, 4, 2),
        (8, 1, 5),
        (8, 4, 2),
    ]
    # a size scalar pins one field of the coupled axis and keeps the others
    s = load_sweep(write(tmp_path, text.replace("epochs = 3\n", "")), "quick")
    assert [(c.warmup_epochs, c.epochs) for c in s.configs[:2]] == [(1, 1), (4, 1)]


def test_array_of_tables_axis_and_split_sets(tmp_path):
    text = """
[base]
r = 2
[[grid.data]]
task = "boolean"
splits = ["clause", "random"]
[[grid.data]]
task = "digits"
splits = ["random"]
[grid]
"""
    s = load_sweep(write(tmp_path, text), "quick")
    assert [(c.task, c.splits) for c in s.configs] == [("boolean", ("clause", "random")), ("digits", ("random",))]
    s = load_sweep(write(tmp_path, '[grid]\nsplits = [["random"], ["random", "overlap"]]\n'), "quick")
    assert [c.splits for c in s.configs] == [("random",), ("random", "overlap")]


def test_duplicates_dropped_and_name_defaults_to_stem(tmp_path):
    s = load_sweep(write(tmp_path, "[grid]\nr = [2, 2, 3]\n", "my-sweep.toml"), "quick")
    assert [c.r for c in s.configs] == [2, 3] and s.name == "my-sweep"


@pytest.mark.parametrize(
    "text, line, message",
    [
        ("[base]\nr = 4\nalpa = 2\n", 3, "alpa: unknown key in [base]"),
        ("[base]\nr = 4\n[grid]\nneuron = [1, 2]\n", 4, "neuron: unknown key in [grid]"),
        ("[sweep]\nname = 'x'\ntitle = 'y'\n", 3, "title: unknown key in [sweep]"),
        ("[sweep]\nname = 'x'\n[sizes.quick]\nepochs = 1\nepoch = 2\n", 5, "epoch: unknown key in [sizes.quick]"),
        ("[basis]\nr = 4\n", 1, "basis: unknown key in the top level"),
        ("[base]\nr = 4\nalpha = 1\n", 3, "alpha=1: must be an integer >= 2"),
        ("[base]\nr = 4\n[grid]\nsplits = [['random'], ['rnd']]\n", 4, "split='rnd': unknown split"),
        ("[grid]\nschedule = [{epochs = 1, warm = 2}]\n", 2, "warm: unknown key in [grid]"),
        ("[base]\nalpha = 2\n[grid]\nalpha = [2, 4]\n", 4, "alpha: both in [base] and [grid]"),
        ("[grid]\nr = 4\n", 2, "r=4: a grid axis must be a non-empty list"),
        ("[base]\nr = 4\nalpha = [2\n", 3, "malformed TOML"),
        ("[base]\nr = \n", 2, "malformed TOML"),
    ],
)
def test_errors_name_file_and_line(tmp_path, text, line, message):
    p = write(tmp_path, text)
    with pytest.raises(ValueError) as err:
        load_sweep(p, "quick")
    msg = str(err.value)
    assert "\n" not in msg and message in msg
    assert msg.startswith(f"{p}:{line}: ")


def test_unknown_size_and_missing_file(tmp_path):
    with pytest.raises(ValueError, match="size='huge': this sweep has sizes quick, paper"):
        load_sweep(write(tmp_path, GRID), "huge")
    with pytest.raises(ValueError, match="cannot read"):
        load_sweep(tmp_path / "nope.toml", "quick")
    with pytest.raises(ValueError, match=r"nope: unknown key in --set"):
        load_sweep(write(tmp_path, GRID), "quick", overrides={"nope": 1})


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_sweeps_load_in_both_sizes(name):
    path = EXPERIMENTS / f"{name}.toml"
    quick, paper = load_sweep(path, "quick"), load_sweep(path, "paper")
    assert quick.name == paper.name == name and quick.sizes == ("quick", "paper")
    assert quick.description and quick.paper
    assert 1 <= len(quick.configs) <= len(paper.configs)
    quick_work = sum(c.trials * c.total_epochs * min(c.n_train, 2000) for c in quick.configs)
    paper_work = sum(c.trials * c.total_epochs * c.n_train for c in paper.configs)
    assert quick_work < paper_work / 4  # quick is a real reduction
    assert all(c.task != "embeddings" and c.data_path is None for c in quick.configs)  # runs out of the box


def test_shipped_sweeps_cover_what_the_paper_varies():
    vision = load_sweep(EXPERIMENTS / "fig5_vision.toml", "quick").configs
    assert {c.task for c in vision} == {"digits", "mnist1d"} and {c.alpha for c in vision} == {2, 4, 8}
    assert {c.splits for c in vision} == {("random", "gram")}
    assert {c.depth for c in load_sweep(EXPERIMENTS / "table_a3_depth.toml", "paper").configs} == {4, 6, 8}
    assert {c.splits for c in load_sweep(EXPERIMENTS / "table_a5_2_4.toml", "paper").configs} == {
        ("structured_2_4", "random")
    }
    timing = load_sweep(EXPERIMENTS / "fig6b_split_timing.toml", "paper").configs
    assert len({c.total_epochs for c in timing}) == 1 and len({c.warmup_epochs for c in timing}) == 4
    assert {c.rewire_every > 0 for c in load_sweep(EXPERIMENTS / "rewiring.toml", "quick").configs} == {True, False}
    controls = {s for c in load_sweep(EXPERIMENTS / "controls.toml", "quick").configs for s in c.splits}
    assert {"overlap", "dropconnect", "random"} <= controls
    a1 = load_sweep(EXPERIMENTS / "table_a1_a2.toml", "paper").configs
    assert [(c.m, c.alpha) for c in a1] == [(m, a) for a in (2, 4) for m in (12, 24, 32, 40, 60, 80, 100, 128)]
    case = load_sweep(EXPERIMENTS / "case_study.toml", "paper").configs
    assert [(c.clauses, c.k, c.r, c.alpha, c.warmup_epochs, c.epochs) for c in case] == [(8, 4, 8, 2, 1000, 1000)]


INPUTS = {"digits": 64, "mnist1d": 40}  # feature counts of the built-in datasets


@pytest.mark.parametrize("size", ["quick", "paper"])
def test_every_shipped_split_can_be_built(size):
    """Each split of each shipped config builds its masks (catches e.g. 3 clauses dealt to 4 children)."""
    import torch

    from fpe_train.fpe.splits import split_masks

    g = torch.Generator().manual_seed(0)
    for name in SHIPPED:
        for c in load_sweep(EXPERIMENTS / f"{name}.toml", size).configs:
            n_in = c.m if c.task == "boolean" else INPUTS[c.task]
            clauses = [list(range(j * c.k, (j + 1) * c.k)) for j in range(c.clauses)] if c.task == "boolean" else None
            widths = [n_in] + ([c.r] if c.depth >= 3 else [])  # A.7: layer 3 reads the r outputs of layer 2
            for split in c.splits:
                for w in widths:
                    masks = split_masks(
                        split,
                        torch.randn(c.r, w, generator=g),
                        c.alpha,
                        clauses=clauses if w == n_in else None,
                        generator=g,
                    )
                    assert masks.shape == (c.alpha * c.r, w), (name, c)
