"""Expand your own MLP checkpoint by Fixed Parameter Expansion, save it, and load it back.

The checkpoint is a ``state_dict`` of an ``nn.Sequential`` MLP (``torch.save(model.state_dict(), path)``):
2-D ``N.weight`` entries are Linear layers, a 1-D ``N.weight`` right after one is a LayerNorm, and an
activation (``--activation``) fills every parameter-free slot between them. With no path, a small demo
checkpoint (an MLP trained briefly on scikit-learn's digits) is first written to a temporary directory, so this runs
standalone; for that demo the FPE model is also fine-tuned and both models are tested on digits.

    python examples/expand_checkpoint.py                       # demo
    python examples/expand_checkpoint.py my_mlp.pt --alpha 2 --split random --out my_mlp_fpe.pt
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from fpe_train import MaskedLinear, count_nonzero, expand

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh}


def mlp_from_state_dict(sd: dict, activation: str = "relu") -> nn.Sequential:
    """Rebuild the Sequential a state dict came from (Linear / LayerNorm / activation), weights loaded."""
    indices = sorted({int(k.split(".")[0]) for k in sd if k.endswith(".weight")})
    layers: dict[int, nn.Module] = {}
    for i in indices:
        w = sd[f"{i}.weight"]
        if w.dim() == 2:
            layers[i] = nn.Linear(w.shape[1], w.shape[0], bias=f"{i}.bias" in sd)
        else:
            layers[i] = nn.LayerNorm(w.shape[0], bias=f"{i}.bias" in sd)
    last = indices[-1]
    seq: list[nn.Module] = []
    for pos in range(last + 1):  # parameter-free slots (activations) sit at the indices between layers
        seq.append(layers.get(pos) or ACTIVATIONS[activation]())
    model = nn.Sequential(*seq)
    model.load_state_dict(sd)
    return model


def write_demo_checkpoint(path: Path, epochs: int) -> None:
    """Train a 64-8-10 MLP on digits for ``epochs`` and save its state dict to ``path``."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from digits_fpe import load_digits_tensors, train

    X, y, _, _ = load_digits_tensors(0)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 8), nn.ReLU(), nn.Linear(8, 10))
    train(model, X, y, epochs=epochs, seed=0)
    torch.save(model.state_dict(), path)


def run(args) -> None:
    """Expand, save and reload ``args.path``; for the demo, fine-tune and test both models on digits."""
    dense = mlp_from_state_dict(torch.load(args.path, weights_only=True), args.activation)
    fpe = expand(dense, args.alpha, args.split, seed=args.seed)
    print(fpe)
    out = Path(args.out or f"{args.path}.fpe.pt")
    torch.save(fpe.state_dict(), out)
    # Load back: rebuild the same architecture by expanding the dense model, then load (masks included).
    again = expand(
        mlp_from_state_dict(torch.load(args.path, weights_only=True), args.activation),
        args.alpha,
        args.split,
        seed=args.seed + 1,
    )
    again.load_state_dict(torch.load(out, weights_only=True))
    x = torch.randn(4, dense[0].in_features)
    assert torch.equal(again(x), fpe(x)), "reloaded model differs"
    masked = sum(isinstance(m, MaskedLinear) for m in fpe.modules())
    print(f"saved {out} ({masked} masked layers); reloaded: outputs identical")
    print(f"nonzero weights: dense {count_nonzero(dense)}, fpe {count_nonzero(fpe)}")
    if args.demo:
        from digits_fpe import accuracy, load_digits_tensors, train

        X, y, X_te, y_te = load_digits_tensors(0)
        train(dense, X, y, args.epochs, seed=1)
        train(fpe, X, y, args.epochs, seed=1)
        print(
            f"after {args.epochs} more epochs: test accuracy dense {accuracy(dense, X_te, y_te):.3f}, "
            f"fpe {accuracy(fpe, X_te, y_te):.3f}"
        )


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("path", nargs="?", help="state_dict of a Sequential MLP (default: write a demo one)")
    p.add_argument("--alpha", type=int, default=2)
    p.add_argument("--split", default="random")
    p.add_argument("--activation", default="relu", choices=sorted(ACTIVATIONS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="where to save the expanded state_dict (default: <path>.fpe.pt)")
    p.add_argument("--epochs", type=int, default=30, help="demo only: fine-tune epochs on digits")
    p.add_argument("--demo-epochs", type=int, default=10, help="demo only: epochs of the demo checkpoint")
    args = p.parse_args(argv)
    start = time.perf_counter()
    torch.set_num_threads(1)
    args.demo = args.path is None
    if not args.demo:
        try:
            run(args)
        except ValueError as err:  # a model FPE cannot expand, a bad split...: one line, exit 2
            print(f"Error: {err}", file=sys.stderr)
            sys.exit(2)
    else:
        with tempfile.TemporaryDirectory(prefix="fpe_demo_") as tmp:  # removed at the end
            args.path = str(Path(tmp) / "digits_mlp.pt")
            write_demo_checkpoint(Path(args.path), args.demo_epochs)
            print(f"wrote demo checkpoint {args.path} (temporary)")
            run(args)
    print(f"seconds: {time.perf_counter() - start:.1f}")


if __name__ == "__main__":
    main()
