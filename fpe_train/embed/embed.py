"""Images -> the embeddings file the vision sweeps read (``task = "embeddings"``, ``fpe_train.engine.datasets``).

``embed(source, weights, out)`` reads a source (``fpe_train.embed.images``), runs every image through the
CLIP encoder (``fpe_train.embed.encoder``) in batches, and writes one ``.npz``:

- a source with a train/test split (CIFAR-100's ``train.bin``/``test.bin``, ``ROOT/{train,test}/CLASS``):
  ``X_train (N, D) float32, y_train (N,) int64, X_test, y_test``;
- one pool (a single ``.bin``, ``ROOT/CLASS``): ``features (N, D), labels (N,)`` (the sweeps split it 80/20);
- in both: ``classes`` (the class names, label i = ``classes[i]``) and ``meta``, one JSON string: the format
  and its version, the dataset name, the source, the model (name, type, vision config, the weights' SHA-256),
  the preprocessing (resize, crop, mean, std), the embedding dimension and the device.

The file appears only when every image is embedded (written beside ``out`` and renamed), so an error
leaves nothing behind. Same images, same weights, same batch size and device: same numbers.
"""

from __future__ import annotations

import json
import os
import time

import numpy as np

from fpe_train.embed.encoder import load_encoder, transformers_offline
from fpe_train.embed.images import open_source
from fpe_train.sweeps.store import toolkit_version

FORMAT = "fpe-theory embeddings"
FORMAT_VERSION = 1


def embed(
    source,
    weights,
    out,
    *,
    label: str = "fine",
    batch_size: int = 64,
    device: str = "auto",
    limit: int | None = None,
    progress: bool = False,
) -> dict:
    """Embed ``source`` with the checkpoint ``weights`` into ``out`` (.npz); returns the recorded ``meta``."""
    transformers_offline()  # a missing extra is named before anything else
    out = _check_out(out)
    if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r}: must be a positive integer")
    encoder = load_encoder(weights, device)  # before reading images: a missing checkpoint fails first
    src = open_source(source, label=label, limit=limit)
    t0 = time.perf_counter()
    bar = _bar(sum(len(s) for s in src.splits), progress)
    features = {s.name: embed_split(s, encoder, batch_size, bar.update) for s in src.splits}
    bar.close()
    meta = _meta(src, encoder, batch_size, time.perf_counter() - t0)
    arrays = {"classes": np.array(src.classes), "meta": np.array(json.dumps(meta, sort_keys=True))}
    if "all" in features:
        arrays.update(features=features["all"], labels=src.splits[0].labels)
    else:
        split = {s.name: s for s in src.splits}
        arrays.update(
            X_train=features["train"],
            y_train=split["train"].labels,
            X_test=features["test"],
            y_test=split["test"].labels,
        )
    _write(out, arrays)
    return meta


def embed_split(split, encoder, batch_size: int, tick=None) -> np.ndarray:
    """(N, D) float32 embeddings of a split's images, ``batch_size`` at a time; ``tick(n)`` after each batch."""
    chunks = []
    for start in range(0, len(split), batch_size):
        idx = range(start, min(start + batch_size, len(split)))
        pixels = np.stack([encoder.preprocess(split.image(i)) for i in idx])  # (B, 3, h, w)
        chunks.append(encoder(pixels))  # (B, D)
        if tick is not None:
            tick(len(idx))
    if not chunks:
        return np.zeros((0, encoder.dim), np.float32)
    return np.concatenate(chunks).astype(np.float32)


def read_meta(path) -> dict | None:
    """The ``meta`` record of an embeddings file written by ``embed`` (None for a file without one)."""
    with np.load(os.fspath(path), allow_pickle=False) as f:
        if "meta" not in f.files:
            return None
        return json.loads(str(f["meta"][()]))


def _check_out(out) -> str:
    if out is None or str(out) == "":
        raise ValueError("out=None: name the embeddings file to write (--out FILE.npz)")
    out = os.fspath(out)
    if not out.endswith(".npz"):
        raise ValueError(f"out={out!r}: must end with .npz (the embeddings file the sweeps read)")
    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder):
        raise ValueError(f"out={out!r}: no such folder {folder!r}")
    if os.path.isdir(out):
        raise ValueError(f"out={out!r}: is a folder")
    return out


def _meta(src, encoder, batch_size: int, seconds: float) -> dict:
    sizes = {s.name: len(s) for s in src.splits}
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "dataset": src.dataset,
        "source": {"kind": src.kind, "path": src.path, "n": sizes, "classes": len(src.classes), **src.details},
        "model": encoder.info,
        "preprocess": encoder.preprocess.to_dict(),
        "dim": encoder.dim,
        "batch_size": batch_size,
        "device": str(encoder.device),
        "seconds": round(seconds, 3),
        "toolkit_version": toolkit_version(),
    }


def _write(out: str, arrays: dict) -> None:
    tmp = f"{out}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _bar(total: int, progress: bool):
    if not progress:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="img", desc="embed", dynamic_ncols=True)
