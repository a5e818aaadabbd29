"""``fpe-theory embed``: images -> the embeddings file of ``--set task=embeddings`` (extra ``[embed]``)."""

from __future__ import annotations

import json

import click


@click.command("embed")
@click.argument("source", type=click.Path())
@click.option(
    "--weights",
    type=click.Path(),
    default=None,
    help="Local CLIP checkpoint: a folder with config.json and model.safetensors (nothing is downloaded).",
)
@click.option("--out", "out", type=click.Path(), default=None, help="The embeddings file to write (.npz).")
@click.option(
    "--label",
    type=click.Choice(["fine", "coarse"]),
    default="fine",
    show_default=True,
    help="CIFAR-100 labels: the 100 fine classes (the paper's) or the 20 coarse ones.",
)
@click.option("--batch-size", type=int, default=64, show_default=True, help="Images per forward pass.")
@click.option(
    "--device",
    type=click.Choice(["auto", "cpu", "cuda"]),
    default="auto",
    show_default=True,
    help="auto: cuda when available, else cpu.",
)
@click.option("--limit", type=int, default=None, help="Embed only the first N images of each split (a trial run).")
@click.option("--progress/--no-progress", default=True, show_default=True, help="A progress bar on stderr.")
@click.option("--json", "as_json", is_flag=True, help="Print the recorded metadata as one JSON object.")
def embed(source, weights, out, label, batch_size, device, limit, progress, as_json):
    """Embed the images of SOURCE with a local CLIP image encoder into --out FILE.npz.

    SOURCE is CIFAR-100's binary distribution (a folder with train.bin and test.bin, or one .bin file)
    or a folder of images, one subfolder per class (ROOT/CLASS/IMAGE, or ROOT/train/CLASS/IMAGE and
    ROOT/test/CLASS/IMAGE for a given split). Images of any size are resized and centre-cropped as the
    checkpoint's preprocessing says. The file feeds the vision sweeps:
    `fpe-theory sweep run fig5_vision --set task=embeddings --set data_path=FILE.npz`.
    """
    from fpe_train.embed.embed import embed as run  # keeps numpy out until used

    meta = run(source, weights, out, label=label, batch_size=batch_size, device=device, limit=limit, progress=progress)
    if as_json:
        click.echo(json.dumps(meta, sort_keys=True))
        return
    sizes = ", ".join(f"{k} {v}" for k, v in meta["source"]["n"].items())
    click.echo(
        f"{out}: {meta['dataset']} ({sizes}; {meta['source']['classes']} classes) -> {meta['dim']}-d "
        f"embeddings of {meta['model']['name']} (weights sha256 {meta['model']['weights_sha256'][:12]}), "
        f"{meta['seconds']:.1f} s on {meta['device']}"
    )
