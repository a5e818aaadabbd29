"""``embed``: the file equals the library's model forward on independently preprocessed images, is the same on a
second run, records model, weights hash and preprocessing, and feeds the vision sweeps; bad input is one line."""

import hashlib
import json
import re
import subprocess
import sys

import numpy as np
import pytest
import torch

import cli
from fpe_train.embed.embed import embed, read_meta
from tests.fpe_train.embed.conftest import cifar_records, write_images
from tests.fpe_train.embed.test_preprocess import _plain

MIXED = {"ant": [(20, 30), (45, 17), (32, 32)], "bee": [(64, 48), (10, 10)], "cat": [(7, 90), (33, 40), (16, 16)]}


def _reference_pixels(paths, size=32):
    """(N, 3, size, size) float32 from the plain PIL + loop preprocessing of the test module, not the package's."""
    from PIL import Image

    from fpe_train.embed.preprocess import CLIP_MEAN, CLIP_STD

    return torch.tensor(
        np.stack([_plain(Image.open(p), size, (size, size), CLIP_MEAN, CLIP_STD) for p in paths]), dtype=torch.float32
    )


def _cifar(tmp_path, n_train=7, n_test=3):
    cifar_records(n_train, seed=5).tofile(tmp_path / "train.bin")
    cifar_records(n_test, seed=6).tofile(tmp_path / "test.bin")
    return tmp_path


def test_folder_embeddings_equal_the_model_forward(tmp_path, vision_checkpoint):
    from transformers import CLIPVisionModelWithProjection

    paths = write_images(tmp_path / "imgs", MIXED)
    out = tmp_path / "emb.npz"
    meta = embed(tmp_path / "imgs", vision_checkpoint, out, batch_size=3, device="cpu")  # 8 images: 3 + 3 + 2
    model = CLIPVisionModelWithProjection.from_pretrained(vision_checkpoint).eval()
    with torch.no_grad():
        expected = model(pixel_values=_reference_pixels(paths)).image_embeds.numpy()  # (8, 16)
    with np.load(out, allow_pickle=False) as f:
        assert sorted(f.files) == ["classes", "features", "labels", "meta"]
        np.testing.assert_allclose(f["features"], expected, rtol=1e-5, atol=1e-5)
        assert f["features"].dtype == np.float32 and f["labels"].tolist() == [0, 0, 0, 1, 1, 2, 2, 2]
        assert f["classes"].tolist() == ["ant", "bee", "cat"]
    assert read_meta(out) == meta
    weights = (vision_checkpoint / "model.safetensors").read_bytes()
    assert meta["model"]["weights_sha256"] == hashlib.sha256(weights).hexdigest()
    assert meta["model"]["config"]["projection_dim"] == 16 and meta["dim"] == 16
    assert meta["preprocess"] == {
        "convert": "RGB",
        "resize_shortest_edge": 32,
        "resample": "bicubic",
        "center_crop": [32, 32],
        "rescale": 1 / 255,
        "mean": [0.48145466, 0.4578275, 0.40821073],
        "std": [0.26862954, 0.26130258, 0.27577711],
    }
    assert meta["source"]["distinct_image_sizes"] == 8 and meta["source"]["n"] == {"all": 8}


def test_cifar_with_a_full_clip_checkpoint_equals_get_image_features(tmp_path, full_checkpoint):
    from transformers import CLIPModel

    (tmp_path / "cifar").mkdir()
    source = _cifar(tmp_path / "cifar")
    out = tmp_path / "cifar.npz"
    meta = embed(source, full_checkpoint, out, batch_size=4, device="cpu")
    model = CLIPModel.from_pretrained(full_checkpoint).eval()
    with np.load(out, allow_pickle=False) as f:
        for part, seed, n in (("train", 5, 7), ("test", 6, 3)):
            records = cifar_records(n, seed=seed)
            images = records[:, 2:].reshape(n, 3, 32, 32).astype(np.float32) / 255  # CHW planes; 32x32: no resize
            mean, std = np.array(meta["preprocess"]["mean"]), np.array(meta["preprocess"]["std"])
            pixels = torch.tensor((images - mean[:, None, None]) / std[:, None, None], dtype=torch.float32)
            with torch.no_grad():
                feats = model.get_image_features(pixel_values=pixels)
            feats = feats if isinstance(feats, torch.Tensor) else feats.pooler_output  # (n, 12)
            np.testing.assert_allclose(f[f"X_{part}"], feats.numpy(), rtol=1e-5, atol=1e-5)
            assert f[f"y_{part}"].tolist() == records[:, 1].tolist()
    assert meta["dataset"] == "cifar100" and meta["model"]["model_type"] == "clip" and meta["dim"] == 12
    assert meta["source"]["label"] == "fine" and meta["source"]["n"] == {"train": 7, "test": 3}


def test_same_images_give_the_same_embeddings(tmp_path, vision_checkpoint):
    write_images(tmp_path / "imgs", MIXED, seed=4)
    first, second = tmp_path / "a.npz", tmp_path / "b.npz"
    meta_a = embed(tmp_path / "imgs", vision_checkpoint, first, batch_size=5, device="cpu")
    meta_b = embed(tmp_path / "imgs", vision_checkpoint, second, batch_size=5, device="cpu")
    with np.load(first) as a, np.load(second) as b:
        assert np.array_equal(a["features"], b["features"]) and np.array_equal(a["labels"], b["labels"])
    assert {k: v for k, v in meta_a.items() if k != "seconds"} == {k: v for k, v in meta_b.items() if k != "seconds"}


def test_the_file_feeds_training_and_rows_name_the_data(tmp_path, vision_checkpoint):
    from fpe_train.engine.config import TrainConfig
    from fpe_train.engine.datasets import load_dataset
    from fpe_train.engine.run import run_config

    source = tmp_path / "cifar"
    source.mkdir()
    out = tmp_path / "cifar.npz"
    meta = embed(_cifar(source, 30, 10), vision_checkpoint, out, label="coarse", device="cpu")
    sizes = dict(n_train=60000, n_test=10000, batch_size=10, device="cpu")
    config = TrainConfig(
        task="embeddings",
        data_path=str(out),
        r=4,
        alpha=2,
        splits=("random",),
        trials=1,
        epochs=1,
        warmup_epochs=1,
        **sizes,
    )
    X_train, y_train, X_test, y_test, _ = load_dataset(config)
    assert X_train.shape == (30, 16) and X_test.shape == (10, 16)
    rows = run_config(config)
    sha = meta["model"]["weights_sha256"][:12]
    for row in rows:  # n_train asked 60000; the file holds 30: the rows say what was used
        assert (row["dataset"], row["n_train_used"], row["n_test_used"]) == (
            f"cifar100 embeddings ({vision_checkpoint.name}, weights sha256 {sha})",
            30,
            10,
        )


def test_a_vision_sweep_runs_on_an_embeddings_file(tmp_path, vision_checkpoint, capsys):
    write_images(tmp_path / "imgs", {c: [(12, 12)] * 6 for c in "abc"})
    out, store = tmp_path / "e.npz", tmp_path / "r.db"
    embed(tmp_path / "imgs", vision_checkpoint, out, device="cpu")
    args = [
        "sweep",
        "run",
        "rewiring",
        "--size",
        "quick",
        "--store",
        str(store),
        "--no-progress",
        "--set",
        "task=embeddings",
        "--set",
        f"data_path={out}",
        "--set",
        "trials=1",
    ]
    assert _cli(args) == 0
    from fpe_train.sweeps.store import ResultsStore

    with ResultsStore(store, readonly=True) as s:
        frame = s.frame()
    assert set(frame["task"]) == {"embeddings"} and frame["dataset"].str.startswith("imgs embeddings (").all()
    assert set(frame["n_train_used"]) == {14} and set(frame["n_test_used"]) == {4}  # 18 images split 80/20


# ---------------------------------------------------------------- the command line


def _cli(args):
    with pytest.raises(SystemExit) as exc:
        cli.main.main(list(args), prog_name="fpe-theory")
    return exc.value.code


def test_cli_writes_the_file_and_prints_its_metadata(tmp_path, vision_checkpoint, capsys):
    write_images(tmp_path / "imgs", MIXED)
    out = tmp_path / "e.npz"
    args = ["embed", str(tmp_path / "imgs"), "--weights", str(vision_checkpoint), "--out", str(out), "--device", "cpu"]
    assert _cli([*args, "--json", "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == read_meta(out) and captured.err == ""
    assert _cli([*args, "--limit", "2"]) == 0  # table mode: one line naming the file, dataset and model
    captured = capsys.readouterr()
    assert captured.out.startswith(f"{out}: imgs (all 2; 3 classes) -> 16-d embeddings") and "embed" in captured.err


def test_console_script_in_a_fresh_process(tmp_path, vision_checkpoint):
    write_images(tmp_path / "imgs", MIXED)
    out = tmp_path / "e.npz"
    code = "import cli; cli.main()"
    args = ["embed", str(tmp_path / "imgs"), "--weights", str(vision_checkpoint), "--out", str(out), "--device", "cpu"]
    res = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "8/8" in res.stderr  # the progress bar, on stderr
    assert read_meta(out)["source"]["n"] == {"all": 8}


def _bad_checkpoint(tmp_path, kind):
    from transformers import CLIPVisionConfig, CLIPVisionModel

    folder = tmp_path / kind
    if kind == "no_projection":  # a vision tower without visual_projection: transformers would draw it at random
        tower = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=4, image_size=32)
        CLIPVisionModel(CLIPVisionConfig(**tower, patch_size=8)).save_pretrained(folder)
    elif kind == "bert":
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps({"model_type": "bert"}))
        (folder / "model.safetensors").write_bytes(b"")
    elif kind == "no_weights":
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps({"model_type": "clip_vision_model"}))
    return folder


@pytest.mark.parametrize(
    "case, message",
    [
        (
            "no weights",
            r"weights=None: embed needs a local CLIP checkpoint \(--weights FOLDER\); the weights go in a "
            r"folder with config\.json and model\.safetensors.*nothing is downloaded",
        ),
        ("missing weights", r"weights='.*nowhere': no such file or folder; the weights go in a folder"),
        ("no_weights", r"weights='.*no_weights': no model\.safetensors or pytorch_model\.bin \(or shards\)"),
        ("bert", r"config\.json: model_type='bert'; embed needs a CLIP model"),
        ("no_projection", r"weights='.*no_projection': 1 tensor\(s\) missing or of the wrong shape"),
        ("cifar length", r"train\.bin: 3075 bytes is not a whole number of 3074-byte CIFAR-100 records"),
        ("cifar label", r"train\.bin: fine label 100 of record 0 is out of range 0\.\.99"),
        ("unreadable image", r"image '.*b/zz\.png': not a readable image"),
        ("truncated image", r"image '.*a/000\.png': not a readable image"),
        ("out suffix", r"out='.*e\.csv': must end with \.npz"),
        ("no out", r"out=None: name the embeddings file to write \(--out FILE\.npz\)"),
        ("batch size", r"batch_size=0: must be a positive integer"),
    ],
)
def test_bad_input_is_one_line_exit_2_nothing_written(tmp_path, vision_checkpoint, capsys, case, message):
    imgs, out, weights = tmp_path / "imgs", tmp_path / "out" / "e.npz", str(vision_checkpoint)
    (tmp_path / "out").mkdir()
    write_images(imgs, {"a": [(64, 64)], "b": [(8, 8)]})
    source, extra = str(imgs), []
    if case == "no weights":
        weights = None
    elif case == "missing weights":
        weights = str(tmp_path / "nowhere")
    elif case in ("no_weights", "bert", "no_projection"):
        weights = str(_bad_checkpoint(tmp_path, case))
    elif case.startswith("cifar"):
        records = cifar_records(1)
        records[0, 1] = 100 if case == "cifar label" else records[0, 1]
        data = records.tobytes() + (b"\0" if case == "cifar length" else b"")
        source = tmp_path / "train.bin"
        source.write_bytes(data)
    elif case == "unreadable image":
        (imgs / "b" / "zz.png").write_bytes(b"\x89PNG but not really")
    elif case == "truncated image":  # found while encoding, after the first files were read
        path = imgs / "a" / "000.png"
        path.write_bytes(path.read_bytes()[:2000])
    elif case == "out suffix":
        out = tmp_path / "out" / "e.csv"
    elif case == "no out":
        out = None
    elif case == "batch size":
        extra = ["--batch-size", "0"]
    args = ["embed", str(source), "--device", "cpu", "--no-progress", *extra]
    args += ["--weights", weights] if weights else []
    args += ["--out", str(out)] if out else []
    assert _cli(args) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), captured.err
    assert re.search(message, lines[0]), lines[0]
    assert list((tmp_path / "out").iterdir()) == []  # nothing written, no temporary file left


def test_device_choice(tmp_path, vision_checkpoint, capsys):
    write_images(tmp_path / "imgs", MIXED)
    out = tmp_path / "e.npz"
    args = ["embed", str(tmp_path / "imgs"), "--weights", str(vision_checkpoint), "--out", str(out), "--no-progress"]
    if not torch.cuda.is_available():
        assert _cli([*args, "--device", "cuda"]) == 2
        assert capsys.readouterr().err.strip() == (
            "Error: device='cuda': no CUDA GPU is available here; use --device cpu or auto"
        )
        assert not out.exists()
        assert _cli([*args, "--device", "auto"]) == 0 and read_meta(out)["device"] == "cpu"
        return
    assert _cli([*args, "--device", "cuda"]) == 0 and read_meta(out)["device"].startswith("cuda")
    cpu = tmp_path / "cpu.npz"
    assert (
        _cli(
            [
                "embed",
                str(tmp_path / "imgs"),
                "--weights",
                str(vision_checkpoint),
                "--out",
                str(cpu),
                "--device",
                "cpu",
                "--no-progress",
            ]
        )
        == 0
    )
    with np.load(out) as g, np.load(cpu) as c:
        np.testing.assert_allclose(g["features"], c["features"], rtol=1e-3, atol=1e-4)
