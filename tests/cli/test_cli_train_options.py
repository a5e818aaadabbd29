"""The train command's options are TrainConfig's fields: one each, with the field's default and help text."""

import dataclasses

from fpe_train.engine._cli import train
from fpe_train.engine.config import TrainConfig


def _options():
    return {p.name: p for p in train.params}


def test_one_option_per_field_with_its_default_and_help():
    options = _options()
    for f in dataclasses.fields(TrainConfig):
        opt = options[f.name]
        assert opt.help.startswith(f.metadata["help"]), f.name
        assert opt.default == f.default, f.name
    assert set(options) - {f.name for f in dataclasses.fields(TrainConfig)} == {"threads", "progress", "as_json"}


def test_parsed_options_build_the_config_they_name():
    args = [
        "--neurons",
        "4",
        "--split",
        "random",
        "--split",
        "gram",
        "--no-record-warmup",
        "--lr",
        "0.01",
        "--device",
        "cpu",
        "--data-path",
        "x.npz",
        "--task",
        "digits",
    ]
    ctx = train.make_context("train", args)
    params = {k: v for k, v in ctx.params.items() if k not in ("threads", "progress", "as_json")}
    config = TrainConfig.from_dict(params)
    assert config == TrainConfig(
        task="digits", r=4, splits=("random", "gram"), record_warmup=False, lr=0.01, device="cpu", data_path="x.npz"
    )
    assert train.make_context("train", ["--r", "5"]).params["r"] == 5
