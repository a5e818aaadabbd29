"""CLIP preprocessing against a plain PIL + per-pixel loop reference and against transformers' own processor."""

import json

import numpy as np
import pytest
from PIL import Image

from fpe_train.embed.preprocess import CLIP_MEAN, CLIP_STD, Preprocess, preprocess_for

SHAPES = [(20, 30), (45, 17), (32, 32), (64, 48), (10, 10), (7, 90)]  # (height, width); some smaller than the crop


def _image(shape, seed=0, mode="RGB"):
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (*shape, 3), dtype=np.uint8)).convert(mode)


def _plain(image, size, crop, mean, std):
    """Short edge to ``size`` (bicubic, long edge truncated), centre crop, /255, per-channel standardising; loops."""
    image = image.convert("RGB")
    w, h = image.size
    if w <= h:
        new = (size, int(size * h / w))
    else:
        new = (int(size * w / h), size)
    if new != (w, h):
        image = image.resize(new, Image.BICUBIC)
    top, left = (new[1] - crop[0]) // 2, (new[0] - crop[1]) // 2
    out = np.zeros((3, crop[0], crop[1]))
    for c in range(3):
        for y in range(crop[0]):
            for x in range(crop[1]):
                value = image.getpixel((left + x, top + y))[c]
                out[c, y, x] = (value / 255 - mean[c]) / std[c]
    return out


@pytest.mark.parametrize("shape", SHAPES)
def test_matches_a_plain_reference(shape):
    p = Preprocess(size=24, crop=(20, 16))
    got = p(_image(shape))
    assert got.shape == (3, 20, 16) and got.dtype == np.float32
    np.testing.assert_allclose(got, _plain(_image(shape), 24, (20, 16), CLIP_MEAN, CLIP_STD), atol=2e-6)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("mode", ["RGB", "L", "RGBA"])
def test_matches_transformers_clip_processor(shape, mode):
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    image = _image(shape, seed=1, mode=mode)
    ref = CLIPImageProcessorPil(size={"shortest_edge": 24}, crop_size={"height": 24, "width": 24})
    expected = ref(image, return_tensors="np")["pixel_values"][0]  # (3, 24, 24)
    np.testing.assert_allclose(Preprocess(size=24, crop=(24, 24))(image), expected, atol=1e-6)


def test_a_folder_preprocessor_config_is_read(tmp_path):
    assert preprocess_for(str(tmp_path), 32) == Preprocess(size=32, crop=(32, 32))  # none: CLIP's at image_size
    cfg = {
        "size": {"shortest_edge": 40},
        "crop_size": {"height": 36, "width": 30},
        "image_mean": [0.5, 0.4, 0.3],
        "image_std": [0.2, 0.25, 0.3],
        "resample": 2,
        "rescale_factor": 0.5 / 255,
    }
    (tmp_path / "preprocessor_config.json").write_text(json.dumps(cfg))
    p = preprocess_for(str(tmp_path), 32)
    assert p == Preprocess(40, (36, 30), (0.5, 0.4, 0.3), (0.2, 0.25, 0.3), "bilinear", 0.5 / 255)
    assert p.to_dict()["center_crop"] == [36, 30] and p.to_dict()["resample"] == "bilinear"
    (tmp_path / "preprocessor_config.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"preprocessor_config\.json: not a usable preprocessor config"):
        preprocess_for(str(tmp_path), 32)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"size": 8, "crop": (9, 8)}, r"size=8, crop=\(9, 8\): need 1 <= crop <= size"),
        ({"size": 8, "crop": (8, 8), "resample": "cubic"}, r"resample='cubic': must be one of"),
        ({"size": 8, "crop": (8, 8), "std": (1, 0, 1)}, r"std=\(1, 0, 1\): need 3 channels each and std > 0"),
    ],
)
def test_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Preprocess(**kwargs)
