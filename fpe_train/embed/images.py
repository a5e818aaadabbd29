"""Image sources for ``fpe-theory embed``: CIFAR-100 binary files and folders of labelled images.

No torch here: a source is a list of splits, each a list of labelled images read on demand.

- **CIFAR-100 binary distribution** (``cifar-100-binary.tar.gz``, unpacked): ``train.bin`` and ``test.bin``,
  each a sequence of 3074-byte records: 1 coarse label byte (0..19), 1 fine label byte (0..99), then
  3072 pixel bytes, the red, green and blue 32x32 planes in row-major order. Parsed from bytes with numpy
  (never unpickled). ``SOURCE`` is the folder holding them (or its ``cifar-100-binary/``), or one ``.bin``
  file (a single pool, split later by the sweeps). The class names come from the distribution's
  ``fine_label_names.txt`` / ``coarse_label_names.txt`` beside them, when present.
- **A folder of images**, one subfolder per class (``ROOT/CLASS/*.png``; class names sorted, label = rank);
  or ``ROOT/train/CLASS/...`` and ``ROOT/test/CLASS/...`` for a given split (the classes are the union,
  so a class seen only in one split keeps one label). Any size and mode Pillow reads: every image is
  converted to RGB and resized by the preprocessing, so mixed sizes are accepted (and recorded).

>>> import numpy as np
>>> records = np.zeros((2, RECORD), np.uint8); records[:, 1] = [3, 7]
>>> parse_cifar100(records.tobytes(), "x.bin", "fine")[1].tolist()
[3, 7]
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

PIXELS = 32 * 32 * 3
RECORD = 2 + PIXELS  # coarse label, fine label, 3072 pixel bytes
LABELS = {"coarse": (0, 20), "fine": (1, 100)}  # label byte offset in a record, number of classes
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


@dataclasses.dataclass(frozen=True)
class Split:
    """One part of a source: ``name`` (train, test or all), labels (N,) and a way to read image i."""

    name: str
    labels: np.ndarray  # (N,) int64
    pixels: np.ndarray | None = None  # (N, 32, 32, 3) uint8 for CIFAR; None for files
    files: tuple[str, ...] = ()  # image paths of a folder source

    def __len__(self) -> int:
        return len(self.labels)

    def image(self, i: int):
        """Image i as an RGB ``PIL.Image``; an unreadable file is one line naming it (ValueError)."""
        from PIL import Image

        if self.pixels is not None:
            return Image.fromarray(self.pixels[i])  # (32, 32, 3) uint8: RGB
        return _open_rgb(self.files[i])


@dataclasses.dataclass(frozen=True)
class Source:
    """What ``embed`` reads: its kind (cifar100, folder), a short dataset name, the class names, the splits."""

    kind: str
    dataset: str
    path: str
    classes: tuple[str, ...]
    splits: tuple[Split, ...]
    details: dict  # recorded in the output: label kind, image sizes seen, ...


def open_source(path, label: str = "fine", limit: int | None = None) -> Source:
    """The CIFAR-100 files or image folder at ``path`` (see module doc); ``limit`` keeps the first N per split."""
    path = os.fspath(path)
    if label not in LABELS:
        raise ValueError(f"label={label!r}: must be one of {', '.join(LABELS)}")
    if limit is not None and (isinstance(limit, bool) or int(limit) != limit or limit < 1):
        raise ValueError(f"limit={limit!r}: must be a positive integer")
    if os.path.isfile(path):
        if not path.endswith(".bin"):
            raise ValueError(f"source={path!r}: a single file must be a CIFAR-100 .bin file; else name a folder")
        return _cifar_source(path, {"all": path}, label, limit)
    if not os.path.isdir(path):
        raise ValueError(f"source={path!r}: no such file or folder")
    for where in (path, os.path.join(path, "cifar-100-binary")):
        bins = {name: os.path.join(where, f"{name}.bin") for name in ("train", "test")}
        if all(os.path.isfile(p) for p in bins.values()):
            return _cifar_source(path, bins, label, limit)
    return _folder_source(path, limit)


# ---------------------------------------------------------------- CIFAR-100


def parse_cifar100(data: bytes, where: str, label: str) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-100 records -> (pixels (N, 32, 32, 3) uint8, labels (N,) int64); checks length and label range."""
    if len(data) == 0 or len(data) % RECORD:
        raise ValueError(
            f"{where}: {len(data)} bytes is not a whole number of {RECORD}-byte CIFAR-100 records "
            f"(1 coarse label byte, 1 fine label byte, {PIXELS} pixel bytes)"
        )
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, RECORD)  # (N, 3074)
    offset, n_classes = LABELS[label]
    labels = records[:, offset].astype(np.int64)  # (N,)
    bad = np.flatnonzero(labels >= n_classes)
    if len(bad):
        raise ValueError(
            f"{where}: {label} label {labels[bad[0]]} of record {bad[0]} is out of range 0..{n_classes - 1} "
            f"({len(bad)} record(s)); not a CIFAR-100 file?"
        )
    pixels = records[:, 2:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # (N, 32, 32, 3): planes -> HWC
    return np.ascontiguousarray(pixels), labels


def _cifar_source(path: str, files: dict, label: str, limit) -> Source:
    splits = []
    for name, file in files.items():
        with open(file, "rb") as f:
            pixels, labels = parse_cifar100(f.read(), file, label)
        if limit is not None:
            pixels, labels = pixels[:limit], labels[:limit]
        splits.append(Split(name, labels, pixels=pixels))
    details = {"label": label, "files": {k: os.path.abspath(v) for k, v in files.items()}, "image_size": [32, 32]}
    names = os.path.join(os.path.dirname(next(iter(files.values()))), f"{label}_label_names.txt")
    return Source(
        "cifar100", "cifar100", os.path.abspath(path), _class_names(names, LABELS[label][1]), tuple(splits), details
    )


def _class_names(path: str, n_classes: int) -> tuple[str, ...]:
    """The names in CIFAR-100's ``fine_label_names.txt`` / ``coarse_label_names.txt`` (else "0", "1", ...)."""
    try:
        with open(path, encoding="utf-8") as f:
            names = tuple(line.strip() for line in f if line.strip())
    except (OSError, UnicodeDecodeError):
        names = ()
    return names if len(names) == n_classes else tuple(str(c) for c in range(n_classes))


# ---------------------------------------------------------------- image folders


def _folder_source(path: str, limit) -> Source:
    parts = {name: os.path.join(path, name) for name in ("train", "test")}
    if all(os.path.isdir(p) for p in parts.values()):
        found = {name: _class_files(p) for name, p in parts.items()}
    else:
        found = {"all": _class_files(path)}
    classes = tuple(sorted({c for per_class in found.values() for c in per_class}))
    rank = {c: i for i, c in enumerate(classes)}
    if len(classes) < 2:
        raise ValueError(
            f"source={path!r}: {len(classes)} class folder(s) with images; need at least 2 (ROOT/CLASS/*.png)"
        )
    splits, sizes = [], set()
    for name, per_class in found.items():
        items = [(f, rank[c]) for c in sorted(per_class) for f in per_class[c]]
        if limit is not None:
            items = items[:limit]
        files = tuple(f for f, _ in items)
        sizes.update(_image_size(f) for f in files)  # every file opened once before any encoding
        splits.append(Split(name, np.array([y for _, y in items], dtype=np.int64), files=files))
    details = {
        "layout": "ROOT/" + ("SPLIT/" if len(found) == 2 else "") + "CLASS/IMAGE",
        "image_sizes": sorted([list(s) for s in sizes])[:20],
        "distinct_image_sizes": len(sizes),
    }
    name = os.path.basename(os.path.normpath(os.path.abspath(path)))
    return Source("folder", name, os.path.abspath(path), classes, tuple(splits), details)


def _class_files(root: str) -> dict[str, list[str]]:
    """{class folder name: sorted image paths} of the subfolders of ``root`` that hold images."""
    out = {}
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        if not entry.is_dir() or entry.name.startswith("."):
            continue
        files = sorted(
            os.path.join(entry.path, f)
            for f in os.listdir(entry.path)
            if f.lower().endswith(IMAGE_SUFFIXES) and not f.startswith(".")
        )
        if files:
            out[entry.name] = files
    if not out:
        raise ValueError(
            f"source={root!r}: no class subfolders with images ({', '.join(IMAGE_SUFFIXES)}); "
            "expected ROOT/CLASS/IMAGE, ROOT/{train,test}/CLASS/IMAGE or CIFAR-100's train.bin and test.bin"
        )
    return out


def _image_size(path: str) -> tuple[int, int]:
    """(width, height) from the file's header; an unreadable file is one line naming it."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.size
    except (OSError, SyntaxError, ValueError) as exc:  # PIL.UnidentifiedImageError is an OSError
        raise ValueError(f"image {path!r}: not a readable image ({' '.join(str(exc).split())})") from None


def _open_rgb(path: str):
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.convert("RGB")  # loads the pixels: a truncated file fails here
    except (OSError, SyntaxError, ValueError) as exc:
        raise ValueError(f"image {path!r}: not a readable image ({' '.join(str(exc).split())})") from None
