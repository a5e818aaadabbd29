"""CLIP's image preprocessing in Pillow and numpy: RGB, resize the short edge, centre crop, rescale, normalise.

The same steps as ``CLIPImageProcessor`` (and OpenAI's CLIP): the shorter edge is resized to ``size`` with
bicubic resampling (the longer to ``int(size * long / short)``), the centre ``crop`` is cut (top-left corner
at ``(H - h) // 2, (W - w) // 2``), pixels are divided by 255 and standardised per channel with ``mean``
and ``std``. A model folder's ``preprocessor_config.json`` sets the sizes, mean and std; without one the
model's ``image_size`` and OpenAI's CLIP mean and std are used. No torch, no torchvision.

>>> import numpy as np; from PIL import Image
>>> p = Preprocess(size=8, crop=(8, 8))
>>> p(Image.fromarray(np.zeros((16, 12, 3), np.uint8))).shape
(3, 8, 8)
"""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)  # OpenAI CLIP, also transformers' default for CLIP
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
RESAMPLE = {0: "nearest", 1: "lanczos", 2: "bilinear", 3: "bicubic", 4: "box", 5: "hamming"}  # PIL's codes


@dataclasses.dataclass(frozen=True)
class Preprocess:
    """One image -> a (3, crop height, crop width) float32 array, as CLIP was trained on."""

    size: int  # the shorter edge after resizing
    crop: tuple[int, int]  # (height, width) of the centre crop
    mean: tuple[float, float, float] = CLIP_MEAN
    std: tuple[float, float, float] = CLIP_STD
    resample: str = "bicubic"
    rescale: float = 1 / 255

    def __post_init__(self):
        if self.size < 1 or min(self.crop) < 1 or self.crop[0] > self.size or self.crop[1] > self.size:
            raise ValueError(f"size={self.size}, crop={self.crop}: need 1 <= crop <= size (the short edge)")
        if self.resample not in RESAMPLE.values():
            raise ValueError(f"resample={self.resample!r}: must be one of {', '.join(RESAMPLE.values())}")
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise ValueError(f"mean={self.mean}, std={self.std}: need 3 channels each and std > 0")

    def __call__(self, image) -> np.ndarray:
        from PIL import Image

        image = image.convert("RGB")
        w, h = image.size
        short, long = (w, h) if w <= h else (h, w)
        new_long = int(self.size * long / short)
        new_w, new_h = (self.size, new_long) if w <= h else (new_long, self.size)
        resample = {v: k for k, v in RESAMPLE.items()}[self.resample]
        if (new_w, new_h) != (w, h):
            image = image.resize((new_w, new_h), resample=Image.Resampling(resample))
        top, left = (new_h - self.crop[0]) // 2, (new_w - self.crop[1]) // 2
        pixels = np.asarray(image, dtype=np.float32)[top : top + self.crop[0], left : left + self.crop[1]]  # (h, w, 3)
        pixels = pixels * np.float32(self.rescale)
        pixels = (pixels - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)
        return np.ascontiguousarray(pixels.transpose(2, 0, 1))  # (3, h, w)

    def to_dict(self) -> dict:
        return {
            "convert": "RGB",
            "resize_shortest_edge": self.size,
            "resample": self.resample,
            "center_crop": list(self.crop),
            "rescale": self.rescale,
            "mean": list(self.mean),
            "std": list(self.std),
        }


def preprocess_for(folder: str, image_size: int) -> Preprocess:
    """A model folder's preprocessing: its ``preprocessor_config.json``, else CLIP's at ``image_size``."""
    path = os.path.join(folder, "preprocessor_config.json")
    if not os.path.isfile(path):
        return Preprocess(size=image_size, crop=(image_size, image_size))
    try:
        with open(path, encoding="utf-8") as f:
            cfg = json.load(f)
        size = cfg.get("size", image_size)
        size = size.get("shortest_edge", image_size) if isinstance(size, dict) else size
        crop = cfg.get("crop_size", size)
        crop = (crop["height"], crop["width"]) if isinstance(crop, dict) else (crop, crop)
        if not cfg.get("do_center_crop", True):
            crop = (size, size)
        return Preprocess(
            size=int(size),
            crop=(int(crop[0]), int(crop[1])),
            mean=tuple(float(x) for x in cfg.get("image_mean", CLIP_MEAN)),
            std=tuple(float(x) for x in cfg.get("image_std", CLIP_STD)),
            resample=RESAMPLE.get(int(cfg.get("resample", 3)), "bicubic"),
            rescale=float(cfg.get("rescale_factor", 1 / 255)),
        )
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ValueError(f"{path}: not a usable preprocessor config ({' '.join(str(exc).split())})") from None
