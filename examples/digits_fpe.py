"""Fixed Parameter Expansion of a small MLP on scikit-learn's digits, in a plain PyTorch training loop.

A dense MLP (64 -> hidden -> 10) is trained for ``--warmup-epochs``; then it is forked, as in the paper:
the dense model trains on for ``--epochs`` more, and each FPE variant (the same weights expanded by
``alpha`` with a split, at the same number of non-zero weights) trains for the same ``--epochs``.
Prints test accuracy and non-zero weight counts. Runs in seconds on a CPU:

    python examples/digits_fpe.py --hidden 8 --alpha 4 --epochs 60
"""

from __future__ import annotations

import argparse
import copy
import time

import torch
from torch import nn

from fpe_train import Rewirer, count_nonzero, expand


def load_digits_tensors(seed: int):
    """Standardised digits (1797 x 64, 10 classes), split 75/25 with a fixed seed."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=seed, stratify=y)
    mean, std = X_tr.mean(0), X_tr.std(0) + 1e-6
    to = lambda a, dt: torch.tensor(a, dtype=dt)  # noqa: E731
    return (
        to((X_tr - mean) / std, torch.float32),
        to(y_tr, torch.long),
        to((X_te - mean) / std, torch.float32),
        to(y_te, torch.long),
    )


def train(model: nn.Module, X, y, epochs: int, seed: int, lr: float = 1e-2, rewirer: Rewirer | None = None) -> None:
    """A plain loop: Adam, mini-batches of 128, cross-entropy."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for idx in torch.randperm(len(X), generator=g).split(128):
            opt.zero_grad()
            nn.functional.cross_entropy(model(X[idx]), y[idx]).backward()
            opt.step()
            if rewirer is not None:
                rewirer.step(opt)


@torch.no_grad()
def accuracy(model: nn.Module, X, y) -> float:
    return float((model(X).argmax(1) == y).float().mean())


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hidden", type=int, default=8, help="dense hidden neurons (FPE parents)")
    p.add_argument("--alpha", type=int, default=4, help="expansion factor")
    p.add_argument("--splits", default="random,gram", help="comma-separated split names")
    p.add_argument("--warmup-epochs", type=int, default=20, help="dense epochs before the split")
    p.add_argument("--epochs", type=int, default=60, help="epochs after the split (dense and FPE)")
    p.add_argument(
        "--rewire-every", type=int, default=20, help="also run random+rewire, rewiring every T steps (0: no)"
    )
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    start = time.perf_counter()
    torch.set_num_threads(1)  # tiny layers: one thread is fastest and leaves the other cores alone
    torch.manual_seed(args.seed)
    X_tr, y_tr, X_te, y_te = load_digits_tensors(args.seed)
    dense = nn.Sequential(nn.Linear(64, args.hidden), nn.ReLU(), nn.Linear(args.hidden, 10))
    train(dense, X_tr, y_tr, args.warmup_epochs, args.seed)
    variants = {"dense": copy.deepcopy(dense)}
    for split in args.splits.split(","):
        variants[split] = expand(dense, args.alpha, split, seed=args.seed)
    if args.rewire_every:
        variants["random+rewire"] = expand(dense, args.alpha, "random", seed=args.seed)
    print(f"digits: dense {args.hidden} neurons, warm-up {args.warmup_epochs} epochs, then {args.epochs} epochs")
    print(f"{'variant':<15}{'hidden':>8}{'nonzero':>9}{'test acc':>10}")
    for name, model in variants.items():
        rewirer = Rewirer(model, every=args.rewire_every, fraction=0.1, seed=args.seed) if "rewire" in name else None
        train(model, X_tr, y_tr, args.epochs, args.seed + 1, rewirer=rewirer)
        width = model[0].out_features
        print(f"{name:<15}{width:>8}{count_nonzero(model):>9}{accuracy(model, X_te, y_te):>10.3f}")
    print(f"seconds: {time.perf_counter() - start:.1f}")


if __name__ == "__main__":
    main()
