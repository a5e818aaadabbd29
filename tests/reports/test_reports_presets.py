"""Presets: the shipped sweep files parse, quick stays small, and a report run trains only what the store lacks."""

import dataclasses

import pytest

from reports.build import build_report
from reports.presets import PRESETS, Preset, SweepChoice, get_preset, load_sweeps

# fig3a in small: two r values, two trials each
FIG3A = dict(
    name="fig3a",
    clauses=4,
    alpha=2,
    r=None,
    trials=None,
    epochs=2,
    warmup_epochs=2,
    n_train=128,
    n_test=64,
    batch_size=64,
    grid={"r": [2, 4]},
    sizes={"quick": {"trials": 2}},
)


def test_unknown_preset():
    with pytest.raises(ValueError, match="preset='nope': must be one of quick, paper"):
        get_preset("nope")


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_sweep_file_parses(name):
    sweeps = load_sweeps(get_preset(name))
    assert [s.name for s in sweeps] == [c.name for c in get_preset(name).sweeps]
    assert all(s.configs for s in sweeps)


def test_quick_preset_is_small():
    """A bound on the work of --preset quick: trials x epochs x training samples (paper sizes are ~1000x)."""
    quick = load_sweeps(get_preset("quick"))
    work = sum(c.trials * (c.warmup_epochs + c.epochs) * c.n_train * len(c.variants) for s in quick for c in s.configs)
    paper = load_sweeps(get_preset("paper"))
    paper_work = sum(
        c.trials * (c.warmup_epochs + c.epochs) * c.n_train * len(c.variants) for s in paper for c in s.configs
    )
    assert work < paper_work / 100
    assert sum(len(s.configs) for s in quick) <= 60


def test_keep_and_overrides_reduce_a_sweep():
    choice = SweepChoice("fig5_vision", keep=(("task", ("digits",)), ("alpha", (2,))), overrides=(("trials", 1),))
    (sweep,) = load_sweeps(dataclasses.replace(get_preset("quick"), sweeps=(choice,)))
    assert {c.task for c in sweep.configs} == {"digits"} and {c.alpha for c in sweep.configs} == {2}
    assert {c.trials for c in sweep.configs} == {1}


def test_missing_sweep_file_is_a_one_line_error(tmp_path):
    preset = Preset(name="x", sweeps=(SweepChoice("absent"),), root=str(tmp_path))
    with pytest.raises(ValueError, match="absent.toml does not exist"):
        load_sweeps(preset)


def test_report_trains_only_what_the_store_lacks(tmp_path, monkeypatch, tiny_sweep_file):
    tiny_sweep_file(file="fig3a.toml", **FIG3A)
    preset = Preset(
        name="tiny",
        sweeps=(SweepChoice("fig3a"),),
        root=str(tmp_path),
        mc_trials=100,
        grid_m=(8,),
        grid_k=(2,),
        grid_alpha=(2,),
        mc_cases=(),
        r_min_problems=((8, 2, 2),),
    )
    monkeypatch.setenv("PATH", str(tmp_path / "no-tex"))  # .tex only: faster
    first = build_report(tmp_path / "out", preset=preset, progress=False, workers=1)
    assert (first.trained, first.reused) == (4, 0)
    assert (tmp_path / "out" / "results.db").exists() and first.pdf is None and first.hint
    second = build_report(tmp_path / "out", preset=preset, progress=False, workers=1)
    assert (second.trained, second.reused) == (0, 4)
    assert second.tex.read_text() == first.tex.read_text()
