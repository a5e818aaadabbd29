"""Many configs, one batch: which configs train together, and how big a batch may be.

Configs that share a *schedule* (task data, epochs, warm-up, batch size, training set, depth, device, curve
interval) step through the same number of optimiser steps, so their models can be one ``BatchedMLP``: widths
r, alpha, input counts m and splits differ only in shape, and are padded to the batch's largest shape with
masks (padded inputs and neurons are exactly zero and never counted). Per-model lr, l1 and l2 are tensors.

Batching (``batch_configs``, ``batch_jobs``):

- on CUDA a schedule is split into a few shape buckets, with CUDA's own cost model: a per-step overhead
  (``CUDA_STEP_OVERHEAD_FLOP``: kernel launches, not FLOPs, dominate tiny models there) much larger than on
  CPU, so configs share a padded batch unless padding them costs more than another batch's launches; buckets
  are merged greedily, the most saving merge first (:func:`_merged_buckets`), never costing more than config
  by config or than one padded batch of the schedule;
- configs the compiled CPU kernel trains (``fpe_train.engine.keys.on_kernel``) are one batch per config: the
  kernel trains each model at its own shape, so a mixed batch would cost the sum of its models and gain
  nothing, while batches of one config let a pool's workers share the work evenly (largest first;
  ``docs/performance.md``, "Grouping and memory");
- on CPU a schedule of the torch path is split into *shape buckets*, greedily: a config joins the bucket whose
  estimated time grows least, unless training it alone is cheaper than the padding it would add
  (time ~ steps * (``STEP_OVERHEAD_FLOP`` + padded FLOPs per step), see :func:`bucket_cost`);
- a batch whose memory estimate (:func:`batch_bytes`: weights, gradients, masks, Adam state, activations
  E*B*h, the gathered minibatch E*B*m) exceeds the budget is split (:func:`split_by_memory`), by trials if
  one config alone is too big.

>>> from fpe_train.engine.config import TrainConfig
>>> a, b = TrainConfig(r=4, depth=2), TrainConfig(r=8, depth=2)  # the torch path: shape buckets
>>> [len(b) for b in batch_configs([a, b, TrainConfig(epochs=10, depth=2)])]
[2, 1]
>>> [len(b) for b in batch_configs([TrainConfig(r=4), TrainConfig(r=8)])]  # the CPU kernel: one config each
[1, 1]
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

from fpe_train.engine.keys import cuda_present, data_key, on_kernel, schedule_key

STEP_OVERHEAD_FLOP = 2e7  # per optimiser step of one batch on CPU: ~1 ms of launches at ~20 GFLOP/s
ADAM_FLOP_PER_PARAM = 100.0  # the Adam step's ~20 memory passes per (padded) parameter, in FLOP-equivalents
# per optimiser step of one batch on CUDA, in FLOP-equivalents at the GPU's rate: about 30 kernels of ~5 us each
# (150 us) at ~20 TFLOP/s sustained on small batched products. An estimate, to be measured by benchmarks/gpu.sh.
CUDA_STEP_OVERHEAD_FLOP = 3e9
CPU_MEMORY_FRACTION = 0.25  # a batch may use this share of the machine's RAM
CUDA_MEMORY_FRACTION = 0.5  # ... or of the GPU's free memory


def n_inputs(config) -> int:
    """Input width: m for the Boolean task; for vision tasks the dataset's (read from the shipped shapes)."""
    if config.task == "boolean":
        return config.m
    return _VISION_INPUTS.get(config.task, 784)


_VISION_INPUTS = {"digits": 64, "mnist1d": 40, "fashion_mnist": 784, "embeddings": 512}


def n_outputs(config) -> int:
    return 1 if config.task == "boolean" else 10


def hidden_widths(config, expanded: bool) -> list[int]:
    """Hidden widths of a dense model (``expanded=False``) or of its widest FPE fork (layers 0, 2, ... x alpha)."""
    grow = expanded and any(config.splits)
    return [config.r * (config.alpha if grow and j % 2 == 0 else 1) for j in range(config.depth)]


def _flops_per_sample(m: int, widths: Sequence[int], n_out: int) -> float:
    """Forward + backward ~ 6 x multiply-adds of the layers (x2 for the weight-gradient and input-gradient)."""
    sizes = [m, *widths, n_out]
    return 6.0 * sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=False))


def _shape(configs) -> tuple[int, list[int], list[int], int]:
    """Padded (m, warm-up widths, fine-tune widths, n_out) of a set of configs."""
    m = max(n_inputs(c) for c in configs)
    depth = configs[0].depth
    warm = [max(hidden_widths(c, False)[j] for c in configs) for j in range(depth)]
    fine = [max(max(hidden_widths(c, True)[j], hidden_widths(c, False)[j]) for c in configs) for j in range(depth)]
    return m, warm, fine, max(n_outputs(c) for c in configs)


def _steps(config) -> tuple[int, int]:
    per_epoch = -(-config.n_train // config.batch_size)
    return config.warmup_epochs * per_epoch, config.epochs * per_epoch


def bucket_cost(jobs: Sequence[tuple], device: str = "cpu") -> float:
    """Estimated FLOP-equivalents to train ``jobs`` = [(config, n_trials)] as one padded batch on ``device``.

    Per step: ``STEP_OVERHEAD_FLOP`` (``CUDA_STEP_OVERHEAD_FLOP`` on CUDA) + per model ``6 B W`` (forward and
    backward of the W padded weights on a minibatch of B) + ``ADAM_FLOP_PER_PARAM W`` (the optimiser); warm-up
    with the dense models, then every variant at the widest (FPE) shape.
    """
    configs = [c for c, _ in jobs]
    m, warm, fine, n_out = _shape(configs)
    B = configs[0].batch_size
    warm_steps, fine_steps = _steps(configs[0])
    e_warm = sum(t for _, t in jobs)
    e_fine = sum(t * (1 + len(c.splits)) for c, t in jobs)
    overhead = CUDA_STEP_OVERHEAD_FLOP if str(device).startswith("cuda") else STEP_OVERHEAD_FLOP

    def per_step(E: int, widths: list[int]) -> float:
        params = _flops_per_sample(m, widths, n_out) / 6.0  # weights (biases and norms are few)
        return overhead + E * (B * 6.0 * params + ADAM_FLOP_PER_PARAM * params)

    return warm_steps * per_step(e_warm, warm) + fine_steps * per_step(e_fine, fine)


def batch_bytes(jobs: Sequence[tuple]) -> int:
    """Memory estimate of one batch [(config, n_trials)], in bytes, from shapes alone.

    Per model: parameters x (weight, gradient, 2 Adam moments, mask, a masked copy) in float32 (masks 1 byte),
    activations E*B*h x ~8 live float32 tensors per hidden layer (pre-activation, ReLU, gradients, norm),
    the gathered minibatch E*B*m twice (it and its gradient-side reuse), plus each dataset once (one per
    trial with ``data_per_trial``: trials 0 .. n-1 of each job counted).
    """
    configs = [c for c, _ in jobs]
    m, _, fine, n_out = _shape(configs)
    B = configs[0].batch_size
    e = sum(t * (1 + len(c.splits) + 1) for c, t in jobs)  # + the warm-up snapshot
    sizes = [m, *fine, n_out]
    params = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=False))
    per_model = params * (5 * 4 + 1) + B * (8 * 4 * sum(fine) + 2 * 4 * m + 4 * 4 * n_out)
    keys = {data_key(c, t): c for c, n in jobs for t in range(n)}
    data = sum((c.n_train + c.n_test) * n_inputs(c) * 4 for c in keys.values())
    return int(e * per_model + data)


def memory_budget(device: str = "cpu") -> int:
    """Bytes one batch may use: a share of the GPU's free memory, or of this machine's RAM."""
    if str(device).startswith("cuda"):
        import torch

        if torch.cuda.is_available():
            return int(torch.cuda.mem_get_info()[0] * CUDA_MEMORY_FRACTION)
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 8 << 30
    return int(total * CPU_MEMORY_FRACTION)


def split_by_memory(jobs: list[tuple], budget: int) -> list[list[tuple]]:
    """Split [(config, trials tuple)] into batches whose :func:`batch_bytes` fits ``budget``.

    Configs are packed in order; a config too big alone is split by trials (down to one trial per batch;
    a single model that does not fit is still one batch, and the device reports it).
    """
    out: list[list[tuple]] = []
    current: list[tuple] = []

    def fits(config, trials, k):
        return batch_bytes([(c, len(t)) for c, t in current] + [(config, k)]) <= budget

    for config, trials in jobs:
        trials = tuple(trials)
        while trials:
            lo, hi = 0, len(trials)  # the largest prefix that fits beside ``current``
            while lo < hi:
                mid = (lo + hi + 1) // 2
                lo, hi = (mid, hi) if fits(config, trials, mid) else (lo, mid - 1)
            if lo == 0 and current:
                out.append(current)
                current = []
                continue
            take = max(lo, 1)
            current.append((config, trials[:take]))
            trials = trials[take:]
            if trials:
                out.append(current)
                current = []
    if current:
        out.append(current)
    return out


def _resolved_device(device: str) -> str:
    if device == "auto":
        return "cuda" if cuda_present() else "cpu"
    return device


def batch_jobs(
    jobs: Iterable[tuple], device: str | None = "cpu", budget: int | None = None, min_batches: int = 1
) -> list[list[tuple]]:
    """Jobs [(config, trials)] -> batches [[(config, trials)]]: by schedule, by shape bucket, by memory.

    ``device`` None: each config's own. ``min_batches``: split the largest batches by trials until there are
    that many (one per worker of a process pool), where trials allow.
    """
    jobs = [(c, tuple(t)) for c, t in jobs if len(tuple(t))]
    by_schedule: dict[tuple, list[tuple]] = {}
    for c, t in jobs:
        by_schedule.setdefault((schedule_key(c), on_kernel(c)), []).append((c, t))
    batches = []
    for (_, kernel_path), same in by_schedule.items():
        dev = _resolved_device(same[0][0].device if device is None else device)
        ragged = kernel_path and not dev.startswith("cuda")  # the CPU kernel: no padding, a batch costs its sum
        if ragged:  # nothing is gained by training configs together: one batch each balances the workers
            buckets = [[job] for job in same]
        else:
            buckets = _buckets(same, dev)
        limit = memory_budget(dev) if budget is None else budget
        for bucket in buckets:
            batches += split_by_memory(bucket, limit)
    return _spread(batches, min_batches)


def _spread(batches: list[list[tuple]], n: int) -> list[list[tuple]]:
    """Halve the most expensive batch (by configs, else by trials) until there are ``n`` batches."""
    batches = list(batches)
    while len(batches) < n:
        costs = [bucket_cost([(c, len(t)) for c, t in b]) for b in batches]
        order = sorted(range(len(batches)), key=lambda i: -costs[i])
        for i in order:
            b = batches[i]
            if len(b) > 1:
                half = [b[: len(b) // 2], b[len(b) // 2 :]]
            elif len(b[0][1]) > 1:
                c, t = b[0]
                half = [[(c, t[: len(t) // 2])], [(c, t[len(t) // 2 :])]]
            else:
                continue
            batches[i : i + 1] = half
            break
        else:
            return batches
    return batches


def _buckets(jobs: list[tuple], device: str = "cpu") -> list[list[tuple]]:
    """Greedy shape buckets of the jobs of one schedule (module doc), by ``bucket_cost`` on ``device``."""
    if str(device).startswith("cuda"):
        return _merged_buckets(jobs, device)
    order = sorted(jobs, key=lambda ct: -bucket_cost([(ct[0], 1)]))
    buckets: list[list[tuple]] = []
    for c, t in order:
        alone = bucket_cost([(c, len(t))])
        best, best_delta = None, alone
        for b in buckets:
            delta = bucket_cost([(x, len(y)) for x, y in [*b, (c, t)]]) - bucket_cost([(x, len(y)) for x, y in b])
            if delta < best_delta:
                best, best_delta = b, delta
        if best is None:
            buckets.append([(c, t)])
        else:
            best.append((c, t))
    return buckets


def _merged_buckets(jobs: list[tuple], device: str) -> list[list[tuple]]:
    """CUDA's shape buckets: start config by config and merge, again and again, the two buckets whose merge
    saves the most estimated cost, while a merge saves any; one padded batch of the schedule if that is cheaper.

    Every merge lowers the total, so it never exceeds config by config; the last check keeps it at or below
    one padded batch. (The CPU's largest-first rule, under CUDA's large per-step overhead, put every big config
    in a bucket of its own and then padded the small ones into them: on the paper's fig3c it ended at one
    padded batch, where merging finds 2-5 buckets estimated 18-41 % cheaper, depending on the overhead.)
    About k^2 cost evaluations for k configs (cached).
    """
    cost_of: dict[tuple, float] = {}

    def cost(members: tuple) -> float:
        if members not in cost_of:
            cost_of[members] = bucket_cost([(jobs[i][0], len(jobs[i][1])) for i in members], device)
        return cost_of[members]

    buckets = [(i,) for i in range(len(jobs))]
    while len(buckets) > 1:
        best, pair = 0.0, None
        for i, a in enumerate(buckets):
            for j in range(i + 1, len(buckets)):
                merged = tuple(sorted(a + buckets[j]))
                gain = cost(a) + cost(buckets[j]) - cost(merged)
                if gain > best:
                    best, pair = gain, (i, j, merged)
        if pair is None:
            break
        i, j, merged = pair
        buckets = [b for k, b in enumerate(buckets) if k not in (i, j)] + [merged]
    whole = tuple(range(len(jobs)))
    if len(buckets) > 1 and cost(whole) <= sum(map(cost, buckets)):
        buckets = [whole]
    buckets.sort(key=lambda b: -cost(b))
    return [[jobs[i] for i in b] for b in buckets]


def batch_configs(configs, device: str = "cpu") -> list[list]:
    """Configs -> the batches the engine trains (all trials of each config), in first-seen order of schedules.

    A config split by memory appears in each of its batches only once per batch.
    """
    batches = batch_jobs([(c, range(c.trials)) for c in configs], device)
    return [list(dict.fromkeys(c for c, _ in b)) for b in batches]
