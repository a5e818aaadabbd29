"""Image sources: CIFAR-100 records against a plain per-byte loop; image folders; one-line errors."""

import numpy as np
import pytest

from fpe_train.embed.images import RECORD, open_source, parse_cifar100
from tests.fpe_train.embed.conftest import cifar_records, write_images


def _plain_record(record: bytes):
    """One CIFAR-100 record decoded byte by byte: (coarse, fine, 32x32x3 nested lists)."""
    image = [[[record[2 + c * 1024 + row * 32 + col] for c in range(3)] for col in range(32)] for row in range(32)]
    return record[0], record[1], image


def test_cifar_records_match_a_plain_loop():
    records = cifar_records(5, seed=3)
    data = records.tobytes()
    for label, index in (("coarse", 0), ("fine", 1)):
        pixels, labels = parse_cifar100(data, "x.bin", label)
        assert pixels.shape == (5, 32, 32, 3) and pixels.dtype == np.uint8 and labels.dtype == np.int64
        for i in range(5):
            coarse, fine, image = _plain_record(data[i * RECORD : (i + 1) * RECORD])
            assert labels[i] == (coarse, fine)[index]
            assert pixels[i].tolist() == image


def test_cifar_folder_gives_train_and_test(tmp_path):
    folder = tmp_path / "cifar-100-binary"
    folder.mkdir()
    cifar_records(6, seed=1).tofile(folder / "train.bin")
    cifar_records(3, seed=2).tofile(folder / "test.bin")
    src = open_source(tmp_path)  # the parent folder of cifar-100-binary/ works too
    assert src.kind == "cifar100" and len(src.classes) == 100
    assert [(s.name, len(s)) for s in src.splits] == [("train", 6), ("test", 3)]
    assert src.splits[1].labels.tolist() == cifar_records(3, seed=2)[:, 1].tolist()
    image = src.splits[0].image(4)
    assert image.size == (32, 32) and np.asarray(image).tolist() == _plain_record(cifar_records(6, 1)[4].tobytes())[2]
    assert src.classes[:3] == ("0", "1", "2")  # no label names file: the numbers
    (folder / "coarse_label_names.txt").write_text("".join(f"superclass_{i}\n" for i in range(20)))
    limited = open_source(folder / "train.bin", label="coarse", limit=2)
    assert limited.classes[19] == "superclass_19"
    assert [(s.name, len(s)) for s in limited.splits] == [("all", 2)] and len(limited.classes) == 20


@pytest.mark.parametrize("n_bytes", [RECORD - 1, 2 * RECORD + 5, 0])
def test_cifar_file_of_the_wrong_length(tmp_path, n_bytes):
    path = tmp_path / "train.bin"
    path.write_bytes(bytes(n_bytes))
    with pytest.raises(ValueError, match=rf"train\.bin: {n_bytes} bytes is not a whole number of 3074-byte"):
        open_source(path)


@pytest.mark.parametrize("label, offset, value", [("fine", 1, 100), ("coarse", 0, 20), ("fine", 1, 255)])
def test_cifar_label_out_of_range(tmp_path, label, offset, value):
    records = cifar_records(4)
    records[2, offset] = value
    path = tmp_path / "data.bin"
    records.tofile(path)
    with pytest.raises(ValueError, match=rf"data\.bin: {label} label {value} of record 2 is out of range 0\.\.\d+"):
        open_source(path, label=label)


def test_folder_classes_labels_and_mixed_sizes(tmp_path):
    paths = write_images(tmp_path / "imgs", {"cat": [(20, 30), (40, 10)], "ant": [(8, 8)], "dog": [(33, 33)]})
    src = open_source(tmp_path / "imgs")
    assert src.kind == "folder" and src.dataset == "imgs" and src.classes == ("ant", "cat", "dog")
    (split,) = src.splits
    assert split.name == "all" and split.labels.tolist() == [0, 1, 1, 2]
    assert [str(p) for p in paths] == list(split.files)
    assert src.details["distinct_image_sizes"] == 4  # mixed sizes are accepted (the preprocessing resizes)


def test_folder_with_train_and_test(tmp_path):
    write_images(tmp_path / "train", {"a": [(9, 9)] * 2, "b": [(9, 9)]})
    write_images(tmp_path / "test", {"b": [(9, 9)], "c": [(9, 9)]})
    (tmp_path / "test" / "c" / "notes.txt").write_text("not an image")  # ignored: not an image suffix
    src = open_source(tmp_path)
    assert src.classes == ("a", "b", "c")  # the union: a class keeps its label in both splits
    assert [s.labels.tolist() for s in src.splits] == [[0, 0, 1], [1, 2]]


def test_grey_and_rgba_images_become_rgb(tmp_path):
    write_images(tmp_path, {"a": [(5, 7)]}, mode="L")
    write_images(tmp_path, {"b": [(5, 7)]}, mode="RGBA")
    src = open_source(tmp_path)
    assert all(src.splits[0].image(i).mode == "RGB" for i in range(2))


def test_unreadable_image_is_named(tmp_path):
    write_images(tmp_path, {"a": [(5, 5)], "b": [(5, 5)]})
    (tmp_path / "b" / "broken.png").write_bytes(b"not a png at all")
    with pytest.raises(ValueError, match=r"image '.*broken\.png': not a readable image"):
        open_source(tmp_path)


def test_truncated_image_is_named_when_read(tmp_path):
    (path,) = write_images(tmp_path, {"a": [(64, 64)]})
    write_images(tmp_path, {"b": [(5, 5)]})
    path.write_bytes(path.read_bytes()[:2000])  # the header survives, most pixels do not
    src = open_source(tmp_path)
    with pytest.raises(ValueError, match=r"image '.*000\.png': not a readable image"):
        src.splits[0].image(0)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: None, r"source='.*missing': no such file or folder"),
        (lambda p: p.write_text("x"), r"source='.*missing': a single file must be a CIFAR-100 \.bin file"),
        (lambda p: p.mkdir(), r"source='.*missing': no class subfolders with images"),
        (lambda p: write_images(p, {"only": [(4, 4)]}), r"source='.*missing': 1 class folder\(s\) with images"),
    ],
)
def test_bad_sources(tmp_path, make, message):
    make(tmp_path / "missing")
    with pytest.raises(ValueError, match=message):
        open_source(tmp_path / "missing")


def test_bad_label_and_limit(tmp_path):
    with pytest.raises(ValueError, match=r"label='medium': must be one of coarse, fine"):
        open_source(tmp_path, label="medium")
    with pytest.raises(ValueError, match=r"limit=0: must be a positive integer"):
        open_source(tmp_path, limit=0)
