"""Small randomly initialised CLIP checkpoints and generated images, written once per test session."""

import numpy as np
import pytest

VISION = dict(
    hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, image_size=32, patch_size=8
)


@pytest.fixture(scope="session")
def vision_checkpoint(tmp_path_factory):
    """A vision-only CLIP checkpoint (``clip_vision_model``, projection to 16) saved with save_pretrained."""
    import torch
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("clip_vision")
    CLIPVisionModelWithProjection(CLIPVisionConfig(**VISION, projection_dim=16)).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def full_checkpoint(tmp_path_factory):
    """A full CLIP checkpoint (``clip``: text and vision towers), as the paper's ViT-B/16 is distributed."""
    import torch
    from transformers import CLIPConfig, CLIPModel

    torch.manual_seed(1)
    text = dict(
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        vocab_size=50,
        max_position_embeddings=8,
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
    )
    folder = tmp_path_factory.mktemp("clip_full")
    CLIPModel(CLIPConfig(text_config=text, vision_config=VISION, projection_dim=12)).save_pretrained(folder)
    return folder


def write_images(root, sizes_by_class: dict, seed: int = 0, mode: str = "RGB", suffix: str = ".png") -> list:
    """ROOT/CLASS/i.png of random pixels; returns the paths in the order embed reads them (class, then name)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    paths = []
    for cls in sorted(sizes_by_class):
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i, (h, w) in enumerate(sizes_by_class[cls]):
            path = root / cls / f"{i:03d}{suffix}"
            Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).convert(mode).save(path)
            paths.append(path)
    return paths


def cifar_records(n: int, seed: int = 0) -> np.ndarray:
    """(n, 3074) uint8 CIFAR-100 records: coarse label, fine label, 3072 random pixel bytes."""
    rng = np.random.default_rng(seed)
    records = rng.integers(0, 256, (n, 3074), dtype=np.uint8)
    records[:, 0] = rng.integers(0, 20, n)
    records[:, 1] = rng.integers(0, 100, n)
    return records
