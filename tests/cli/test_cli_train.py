"""``fpe-theory train``: table, --json keys, and one-line errors with exit 2 for bad input."""

import json

import pytest
import torch
from helpers import assert_one_line_error

TINY = [
    "--clauses",
    "4",
    "--k",
    "4",
    "--neurons",
    "4",
    "--trials",
    "2",
    "--epochs",
    "2",
    "--warmup-epochs",
    "2",
    "--n-train",
    "300",
    "--n-test",
    "200",
    "--batch-size",
    "100",
    "--device",
    "cpu",
]


def test_json_output(invoke):
    code, out, err = invoke("train", *TINY, "--split", "random", "--split", "clause", "--json")
    assert code == 0, err
    assert err.startswith("config: ")  # resolved config on stderr in --json mode
    doc = json.loads(out)
    assert doc["config"]["r"] == 4 and doc["config"]["device"] == "cpu"
    assert list(doc["variants"]) == ["dense", "dense_warmup", "random", "clause"]  # record_warmup is on
    for v in doc["variants"].values():
        for key in ("test_accuracy", "train_accuracy"):
            assert set(v[key]) == {"mean", "sem", "values"} and len(v[key]["values"]) == 2
        assert v["nonzero_params"] == 16 * 4 + 4
        assert v["best_test_accuracy"] == max(v["test_accuracy"]["values"])
        assert set(v["covered"]) == {"mask", "learned"} and set(v["collisions"]) == {"mask", "learned"}
        assert v["capacity"]["mean"] is not None and "cosine" in v
    rel = doc["variants"]["random"]["relative_improvement"]["values"]
    dense, rnd = (
        doc["variants"]["dense"]["test_accuracy"]["values"],
        doc["variants"]["random"]["test_accuracy"]["values"],
    )
    assert rel == pytest.approx([r / d for r, d in zip(rnd, dense, strict=False)])
    assert len(doc["rows"]) == 8  # 2 trials x (dense, dense_warmup, random, clause)


def test_table_output_and_r_alias(invoke):
    code, out, err = invoke("train", *TINY, "--r", "4", "--split", "random")
    assert code == 0, err
    assert out.startswith("config: ") and "dense" in out and "random" in out and "±" in out


BAD = [
    (["--neurons", "0"], "r=0"),
    (["--alpha", "1"], "alpha=1"),
    (["--split", "nosuch"], "unknown split"),
    (["--split", "structured_2_4", "--alpha", "4"], "structured_2_4"),
    (["--task", "digits", "--split", "clause"], "needs clause structure"),
    (["--lr", "1e30", "--trials", "1"], "loss is not finite"),
    (["--threads", "0"], "threads=0"),
]
if not torch.cuda.is_available():
    BAD.append((["--device", "cuda"], "no CUDA GPU"))


@pytest.mark.parametrize("args,needle", BAD)
def test_bad_input_one_line_exit_2(invoke, args, needle):
    assert_one_line_error(invoke("train", *TINY, *args), needle)
