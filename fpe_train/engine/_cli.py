"""``fpe-theory train``: dense vs FPE variants on the paper's tasks (heavy imports inside the command)."""

from __future__ import annotations

import click

from fpe_train.engine.config import SPLIT_NAMES, TASKS


def _splits(ctx, param, value: str) -> tuple[str, ...]:
    names = tuple(s.strip() for s in value.split(",") if s.strip())
    for s in names:
        if s not in SPLIT_NAMES:
            raise click.BadParameter(f"split={s!r}: unknown split; known: {', '.join(SPLIT_NAMES)}")
    return names


@click.command("train")
@click.option("--task", type=click.Choice(TASKS), default="boolean", show_default=True, help="task")
@click.option("--clauses", type=int, default=8, show_default=True, help="C, clauses (boolean)")
@click.option("--k", type=int, default=4, show_default=True, help="literals per clause (boolean)")
@click.option("--r", "--neurons", "r", type=int, default=8, show_default=True, help="r, dense neurons")
@click.option("--alpha", type=int, default=2, show_default=True, help="expansion factor")
@click.option("--split", "splits", default="random,clause", show_default=True, callback=_splits,
              help=f"comma-separated splits: {', '.join(SPLIT_NAMES)}")  # fmt: skip
@click.option("--trials", type=int, default=5, show_default=True, help="models per variant")
@click.option("--epochs", type=int, default=1000, show_default=True, help="fine-tune epochs after the split")
@click.option("--warmup-epochs", type=int, default=1000, show_default=True, help="dense epochs before the split")
@click.option("--depth", type=int, default=1, show_default=True, help="hidden layers")
@click.option("--n-train", type=int, default=10000, show_default=True, help="training samples (boolean)")
@click.option("--n-test", type=int, default=2000, show_default=True, help="test samples (boolean)")
@click.option("--batch-size", type=int, default=500, show_default=True, help="minibatch size")
@click.option("--lr", type=float, default=1e-3, show_default=True, help="Adam learning rate")
@click.option("--l1", type=float, default=1e-7, show_default=True, help="L1 on W1")
@click.option("--l2", type=float, default=1e-5, show_default=True, help="L2 on all parameters")
@click.option("--seed", type=int, default=0, show_default=True, help="master seed")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--tau", type=float, default=0.1, show_default=True, help="learned support threshold")
@click.option("--rewire-every", type=int, default=0, show_default=True, help="rewire every T steps (0: off)")
@click.option("--rewire-fraction", type=float, default=0.1, show_default=True, help="fraction rewired")
@click.option("--features", type=click.Choice(["clause_sum", "clause_mean", "literal"]), default="clause_sum",
              show_default=True, help="feature vectors for capacity")  # fmt: skip
@click.option("--record-warmup", is_flag=True, help="also report the dense models at the split (dense_warmup)")
@click.option("--data-path", default=None, help="user data file (task=embeddings)")
@click.option("--threads", type=int, default=1, show_default=True,
              help="torch CPU threads (1 is fastest for small batches of models on a busy machine)")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
def train(as_json: bool, threads: int, **options) -> None:
    """Train dense and FPE models (shared warm-up, split, fine-tune) and compare them."""
    import json
    import sys

    from tqdm import tqdm

    from fpe_train.engine.config import TrainConfig
    from fpe_train.engine.run import resolve_device, run_config
    from fpe_train.engine.summary import format_table, summarize

    config = TrainConfig.from_dict(options)
    if threads < 1:
        raise ValueError(f"threads={threads}: must be an integer >= 1")
    import torch

    torch.set_num_threads(threads)
    resolved = {**config.to_dict(), "device": resolve_device(config.device).type}
    click.echo("config: " + json.dumps(resolved), err=as_json)
    total = config.warmup_epochs + config.epochs
    with tqdm(total=total, unit="epoch", file=sys.stderr, disable=None, desc="train") as bar:
        rows = run_config(config, progress=lambda done, _total: bar.update(done - bar.n))
    variants = [v for v in ("dense", "dense_warmup", *config.splits) if any(r["variant"] == v for r in rows)]
    summary = summarize(rows, variants)
    if as_json:
        click.echo(json.dumps({"config": resolved, "variants": summary, "rows": rows}))
    else:
        click.echo(format_table(summary))
