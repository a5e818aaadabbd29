"""``fpe-theory embed`` timed on generated images with a randomly initialised model of the paper's architecture.

    python benchmarks/embed.py [--images 256] [--device cpu] [--batch-size 64] [--arch vit-b16|tiny]

Writes a random CLIP ViT-B/16 vision tower (hidden 768, 12 layers, 12 heads, patch 16, 224 px, projection 512:
the paper's encoder, random weights; nothing is downloaded) and ``--images`` random RGB images of mixed sizes
(one class folder per 32 images) to a temporary folder, then runs ``embed`` end to end (checkpoint load and
hash, reading, preprocessing, forward passes, writing). Reference: the model's forward pass alone on the
same already-preprocessed tensor at the same batch size, the floor that ``embed`` can reach; the ratio is
what reading and preprocessing add. It also prints the projection to CIFAR-100's 60,000 images.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

ARCH = {
    "vit-b16": dict(
        hidden_size=768,
        intermediate_size=3072,
        num_hidden_layers=12,
        num_attention_heads=12,
        image_size=224,
        patch_size=16,
        projection_dim=512,
    ),
    "tiny": dict(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        image_size=32,
        patch_size=8,
        projection_dim=16,
    ),
}


def _checkpoint(folder: Path, arch: str) -> None:
    import torch
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(0)
    CLIPVisionModelWithProjection(CLIPVisionConfig(**ARCH[arch])).save_pretrained(folder)


def _images(root: Path, n: int) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(n):
        h, w = rng.integers(32, 400, 2)
        folder = root / f"class{i // 32:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(folder / f"{i:05d}.png")


def _forward_only(ckpt: Path, out: Path, batch_size: int, device: str) -> float:
    """Seconds for the forward passes alone, on random pixels of the preprocessed shape (after one warm-up)."""
    import torch

    from fpe_train.embed.encoder import load_encoder

    enc = load_encoder(ckpt, device)
    n = len(np.load(out)["features"])
    side = enc.preprocess.crop
    pixels = np.random.default_rng(1).standard_normal((batch_size, 3, *side)).astype(np.float32)
    enc(pixels[:2])  # warm-up
    if enc.device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for start in range(0, n, batch_size):
        enc(pixels[: min(batch_size, n - start)])
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=256)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--arch", choices=sorted(ARCH), default="vit-b16")
    args = ap.parse_args()
    import torch

    from fpe_train.embed.embed import embed

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        _checkpoint(tmp / "ckpt", args.arch)
        _images(tmp / "imgs", args.images)
        t0 = time.perf_counter()
        meta = embed(tmp / "imgs", tmp / "ckpt", tmp / "e.npz", batch_size=args.batch_size, device=args.device)
        total = time.perf_counter() - t0
        forward = _forward_only(tmp / "ckpt", tmp / "e.npz", args.batch_size, args.device)
    n = args.images
    print(
        f"embed {args.arch} on {meta['device']} (torch threads {torch.get_num_threads()}), {n} images "
        f"of mixed sizes, batch {args.batch_size}:"
    )
    print(f"  embed end to end   {total:8.2f} s   {n / total:7.1f} img/s   (encoding loop {meta['seconds']:.2f} s)")
    print(f"  forward pass alone {forward:8.2f} s   {n / forward:7.1f} img/s   (reference: the floor)")
    print(f"  end to end / forward alone = {total / forward:.2f}")
    print(f"  CIFAR-100 (60,000 images) at this rate: {60000 * total / n / 60:.1f} min")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
