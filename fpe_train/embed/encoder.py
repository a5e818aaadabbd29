"""A CLIP image encoder from a local checkpoint: transformers' ``CLIPVisionModelWithProjection``, offline.

``weights`` names a folder as transformers saves one (``config.json`` and ``model.safetensors``, e.g.
``openai/clip-vit-base-patch16``, the paper's ViT-B/16), or a weights file inside such a folder. A full
CLIP checkpoint (``model_type = "clip"``) or a vision-only one (``clip_vision_model``) both work; its
text tower is ignored. Nothing is downloaded: the hub's offline flags are set before transformers is
imported and ``from_pretrained`` gets ``local_files_only=True``. A checkpoint that lacks a tensor of the
vision tower or the projection is refused (transformers would otherwise fill it with random numbers).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os

from fpe_train.embed.preprocess import Preprocess, preprocess_for

MODEL_TYPES = ("clip", "clip_vision_model")
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
HOW_TO_GET = (
    "the weights go in a folder with config.json and model.safetensors, e.g. the paper's ViT-B/16 fetched on a "
    "machine with internet by `hf download openai/clip-vit-base-patch16 --local-dir FOLDER` and copied here; "
    "nothing is downloaded"
)


@dataclasses.dataclass
class Encoder:
    """A loaded model, its preprocessing and what the output records about it."""

    model: object  # CLIPVisionModelWithProjection, in eval mode, on ``device``
    preprocess: Preprocess
    device: object  # torch.device
    info: dict  # name, model_type, config, weights files and SHA-256

    @property
    def dim(self) -> int:
        return int(self.model.config.projection_dim)

    def __call__(self, pixels):
        """(B, 3, h, w) float32 numpy -> (B, projection_dim) float32 numpy: the projected image embeddings."""
        import torch

        with torch.inference_mode():
            x = torch.as_tensor(pixels, device=self.device)
            return self.model(pixel_values=x).image_embeds.float().cpu().numpy()


def transformers_offline():
    """Import transformers with the hub's offline switches on (the library reads them at import), quietly."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    import transformers
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    return transformers


def checkpoint_folder(weights) -> str:
    """The folder holding ``config.json`` and the weights; a one-line error says where the weights go."""
    if weights is None or str(weights) == "":
        raise ValueError(f"weights=None: embed needs a local CLIP checkpoint (--weights FOLDER); {HOW_TO_GET}")
    path = os.path.abspath(os.fspath(weights))
    if not os.path.exists(path):
        raise ValueError(f"weights={os.fspath(weights)!r}: no such file or folder; {HOW_TO_GET}")
    folder = path if os.path.isdir(path) else os.path.dirname(path)
    if not os.path.isfile(os.path.join(folder, "config.json")):
        raise ValueError(f"weights={os.fspath(weights)!r}: no config.json in {folder!r}; {HOW_TO_GET}")
    if not weight_files(folder):
        raise ValueError(
            f"weights={os.fspath(weights)!r}: no {' or '.join(WEIGHT_FILES)} (or shards) in {folder!r}; {HOW_TO_GET}"
        )
    return folder


def weight_files(folder: str) -> list[str]:
    """The weight files transformers reads from ``folder``: one file, or the shards its index names."""
    for name in WEIGHT_FILES:
        if os.path.isfile(os.path.join(folder, name)):
            return [name]
        index = os.path.join(folder, name + ".index.json")
        if os.path.isfile(index):
            with open(index, encoding="utf-8") as f:
                return sorted(set(json.load(f).get("weight_map", {}).values()))
    return []


def sha256_of(path: str, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def load_encoder(weights, device: str = "auto") -> Encoder:
    """The checkpoint at ``weights`` on ``device`` (cpu, cuda or auto), with its preprocessing and hashes."""
    from fpe_train.engine.torch_batch import resolve_device  # keeps torch out until used

    folder = checkpoint_folder(weights)
    torch_device = resolve_device(device)
    config = _read_config(folder)
    hf = transformers_offline()
    try:
        vision_config = None
        if config["model_type"] == "clip":  # a full CLIP: its vision tower, with the model's projection width
            sub = {**config.get("vision_config", {}), "projection_dim": config.get("projection_dim", 512)}
            vision_config = hf.CLIPVisionConfig(**{k: v for k, v in sub.items() if k != "model_type"})
        model, loading = hf.CLIPVisionModelWithProjection.from_pretrained(
            folder, config=vision_config, local_files_only=True, output_loading_info=True
        )
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise ValueError(f"weights={folder!r}: not a loadable CLIP checkpoint ({_short(exc)})") from None
    missing = list(loading.get("missing_keys", ())) + list(loading.get("mismatched_keys", ()))
    if missing:
        names = ", ".join(str(m) for m in missing[:3])
        raise ValueError(f"weights={folder!r}: {len(missing)} tensor(s) missing or of the wrong shape ({names} ...)")
    model = model.to(torch_device).float().eval()
    vision = model.config
    files = weight_files(folder)
    hashes = {name: sha256_of(os.path.join(folder, name)) for name in files}
    info = {
        "name": config.get("_name_or_path") or os.path.basename(folder),
        "folder": folder,
        "model_type": config.get("model_type"),
        "class": "transformers.CLIPVisionModelWithProjection",
        "config": {key: getattr(vision, key) for key in _VISION_KEYS if hasattr(vision, key)},
        "weights_files": hashes,
        "weights_sha256": next(iter(hashes.values())) if len(hashes) == 1 else _combined(hashes),
        "output": "image_embeds (the visual projection of the pooled output)",
    }
    return Encoder(model, preprocess_for(folder, int(vision.image_size)), torch_device, info)


_VISION_KEYS = (
    "hidden_size",
    "intermediate_size",
    "projection_dim",
    "num_hidden_layers",
    "num_attention_heads",
    "num_channels",
    "image_size",
    "patch_size",
    "hidden_act",
    "layer_norm_eps",
)


def _read_config(folder: str) -> dict:
    path = os.path.join(folder, "config.json")
    try:
        with open(path, encoding="utf-8") as f:
            config = json.load(f)
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable JSON config ({_short(exc)})") from None
    if not isinstance(config, dict) or config.get("model_type") not in MODEL_TYPES:
        kind = config.get("model_type") if isinstance(config, dict) else None
        raise ValueError(f"{path}: model_type={kind!r}; embed needs a CLIP model ({' or '.join(MODEL_TYPES)})")
    return config


def _combined(hashes: dict) -> str:
    """One SHA-256 for a sharded checkpoint: of the lines 'name sha256' of its shards, sorted by name."""
    text = "".join(f"{name} {h}\n" for name, h in sorted(hashes.items()))
    return hashlib.sha256(text.encode()).hexdigest()


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]
