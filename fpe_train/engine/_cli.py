"""``fpe-theory train``: dense vs FPE variants on the paper's tasks (heavy imports inside the command).

The config is the CLI: one option per ``TrainConfig`` field, named after it (``warmup_epochs`` ->
``--warmup-epochs``), with the field's default and help text; choices come from the registries in
``fpe_train.engine.config``. A tuple field is a repeatable option (``--split random --split clause``),
a boolean field a ``--x/--no-x`` switch. ``--r`` keeps its alias ``--neurons``.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import types
import typing

import click

from fpe_train.engine.config import DEVICES, FEATURES, SPLIT_NAMES, TASKS, TrainConfig
from fpe_train.engine.summary import format_table, summarize
from fpe_train.sweeps.executors import cap_threads

CHOICES = {"task": TASKS, "device": DEVICES, "features": FEATURES}
ALIASES = {"r": ("--neurons",)}
REPEATED = {"splits": "--split"}  # tuple field -> its repeatable option


def _option_for(f: dataclasses.Field):
    """The click option of one TrainConfig field: name, type, default and help all from the field."""
    help_text = f.metadata["help"]
    hint = typing.get_type_hints(TrainConfig)[f.name]
    if f.name in REPEATED:
        names = (REPEATED[f.name], f.name)
        help_text += f"; repeat the option for several ({', '.join(SPLIT_NAMES)})"
        return click.option(*names, multiple=True, default=f.default, show_default=True, help=help_text)
    flag = "--" + f.name.replace("_", "-")
    if hint is bool:
        return click.option(f"{flag}/--no-{flag[2:]}", f.name, default=f.default, show_default=True, help=help_text)
    names = (flag, *ALIASES.get(f.name, ()), f.name)
    if f.name in CHOICES:
        kind = click.Choice(CHOICES[f.name])
    else:
        kind = {int: int, float: float}.get(_unoptional(hint), str)
    return click.option(*names, type=kind, default=f.default, show_default=f.default is not None, help=help_text)


def _unoptional(hint):
    """``X | None`` -> X (an optional field takes the type of its value)."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return args[0] if len(args) == 1 else hint
    return hint


def config_options(fn):
    """Decorate ``fn`` with one option per TrainConfig field, in field order."""
    for f in reversed(dataclasses.fields(TrainConfig)):
        fn = _option_for(f)(fn)
    return fn


@click.command("train")
@config_options
@click.option(
    "--threads",
    type=int,
    default=1,
    show_default=True,
    help="CPU threads: the kernel's threads over models, torch's intra-op threads",
)
@click.option("--progress/--no-progress", default=True, show_default=True, help="Progress bars on stderr.")
@click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object.")
def train(as_json: bool, threads: int, progress: bool, **options) -> None:
    """Train dense and FPE models (shared warm-up, split, fine-tune) and compare them."""
    from tqdm import tqdm

    from fpe_train.engine.run import run_config  # keeps numpy (and numba or torch) out until used
    from fpe_train.engine.torch_batch import resolve_device  # keeps torch out until used

    config = TrainConfig.from_dict(options)
    if threads < 1:
        raise ValueError(f"threads={threads}: must be an integer >= 1")

    cap_threads(threads)
    resolved = {**config.to_dict(), "device": resolve_device(config.device).type}
    click.echo("config: " + json.dumps(resolved), err=as_json)
    total = config.warmup_epochs + config.epochs
    with tqdm(total=total, unit="epoch", file=sys.stderr, disable=None if progress else True, desc="train") as bar:
        rows = run_config(config, progress=lambda done, _total: bar.update(done - bar.n))
    variants = [
        v for v in ("dense", "dense_warmup", "dense_fresh", *config.splits) if any(r["variant"] == v for r in rows)
    ]
    summary = summarize(rows, variants)
    if as_json:
        click.echo(json.dumps({"config": resolved, "variants": summary, "rows": rows}))
    else:
        click.echo(format_table(summary))
