"""``clip``: an open_clip CLIP model's image tower over each poster (``clip_image_features``)
and its text tower over each plot (``clip_text_features``); 512-d for ViT-B-32.

The model is ``--clip-model``: a folder in open_clip's own format (``open_clip_config.json``
and the weights beside it, as ``open_clip``'s hub export writes them), ``hf-hub:org/repo``,
or one of open_clip's architecture names with ``--clip-pretrained`` naming its weights (an
open_clip tag, downloaded into the Hugging Face cache when there is network, or a checkpoint
file). Default: ``ViT-B-32`` with ``laion2b_s34b_b79k``. Also ``$MMIMDB_CLIP_MODEL`` and
``$MMIMDB_CLIP_PRETRAINED``.

Posters are prepared the way the model was trained (its ``preprocess_cfg``: input size,
resize and crop, interpolation, mean and std) by the features stage's own picklable
preprocessing, so DataLoader workers decode them. Plots are cut at the text tower's context
(77 tokens for CLIP). The vectors are the towers' embeddings, not L2-normalised.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from . import register_image_encoder, register_text_encoder
from .base import EncoderOptions, ImageEncoder, TextEncoder
from .preprocessing import Preprocessing
from .pretrained import (ModelSource, encode_in_batches, first_line, hub_snapshot, import_library, torch_device,
                         weights_digest)

DEFAULT_ARCHITECTURE = "ViT-B-32"
DEFAULT_PRETRAINED = "laion2b_s34b_b79k"
PRETRAINED_ENV = "MMIMDB_CLIP_PRETRAINED"
CLIP = ModelSource("open_clip", "--clip-model", "MMIMDB_CLIP_MODEL",
                   "open_clip's hub export (open_clip_config.json + weights)")
BATCH_SIZE = 64
#: Loaded models by (model, pretrained): ``--text clip --image clip`` loads the model once.
_LOADED: dict[tuple[str, str | None], "LoadedClip"] = {}


class LoadedClip:
    """An open_clip model in eval mode (CPU), its tokenizer, preprocessing and provenance."""

    def __init__(self, model: Any, tokenizer: Any, info: dict[str, Any]):
        self.model, self.tokenizer, self.info = model, tokenizer, info

    def preprocessing(self, kind: str) -> Preprocessing:
        config = dict(getattr(self.model.visual, "preprocess_cfg", {}) or {})
        size = config.get("size", 224)
        size = int(size if isinstance(size, int) else max(size))
        mode = config.get("resize_mode", "shortest")
        if mode not in ("shortest", "squash"):
            raise CLIP.missing(self.info["model"], f"resizes posters by '{mode}', which the features stage does not do")
        return Preprocessing(kind, size, mean=tuple(config.get("mean", ())) or Preprocessing.mean,
                             std=tuple(config.get("std", ())) or Preprocessing.std, norm="CLIP",
                             crop_fraction=1.0, interpolation=config.get("interpolation", "bicubic"), resize_mode=mode)


def _choose(options: EncoderOptions) -> tuple[str, str | None, dict[str, Any]]:
    """open_clip's (model name, pretrained) for the user's choice, and what to record of it."""
    ref = CLIP.choose(options.clip_model, DEFAULT_ARCHITECTURE)
    local = ref.local_path()
    if local is not None:
        if not local.is_dir():
            raise CLIP.missing(ref.name, "is a file, not a folder in open_clip's format (give a checkpoint file "
                                         "with --clip-pretrained and an architecture with --clip-model)")
        return f"local-dir:{local}", None, {"model": str(local), "source": "local path", "sha256": weights_digest(local)}
    if ref.name.startswith("hf-hub:"):
        return ref.name, None, {"model": ref.name, "source": "Hugging Face hub"}
    pretrained = options.clip_pretrained or os.environ.get(PRETRAINED_ENV) or DEFAULT_PRETRAINED
    if pretrained.startswith(("/", ".", "~")) or Path(pretrained).expanduser().is_file():
        path = Path(pretrained).expanduser()
        if not path.is_file():
            raise CLIP.missing(f"{ref.name} + {pretrained}", "has no such checkpoint file")
        return ref.name, str(path.resolve()), {"model": ref.name, "pretrained": str(path), "source": "local path",
                                               "sha256": weights_digest(path)}
    return ref.name, pretrained, {"model": ref.name, "pretrained": pretrained, "source": "open_clip tag"}


def load_clip(options: EncoderOptions) -> LoadedClip:
    """The chosen open_clip model (loaded once per process), or a one-line error."""
    name, pretrained, info = _choose(options)
    if (name, pretrained) in _LOADED:
        return _LOADED[(name, pretrained)]
    open_clip = import_library("open_clip", "open_clip_torch", "clip")
    try:
        model = open_clip.create_model(name, pretrained=pretrained, device="cpu")
        tokenizer = open_clip.get_tokenizer(name)
    except (OSError, RuntimeError, ValueError, KeyError) as error:
        where = "could not be loaded" if info["source"] == "local path" else "could not be found here or downloaded"
        shown = name.removeprefix("local-dir:") + (f" + {pretrained}" if pretrained else "")
        raise CLIP.missing(shown, f"{where} ({first_line(error)})") from None
    info["library"] = f"open_clip {getattr(open_clip, '__version__', '?')}"
    if info["source"] == "open_clip tag":
        repo = (open_clip.get_pretrained_cfg(name, pretrained) or {}).get("hf_hub", "").strip("/")
        snapshot = hub_snapshot(repo) if repo else None
        if repo:
            info["hub"] = repo
        if snapshot is not None:
            info.update(revision=snapshot.name, sha256=weights_digest(snapshot))
    loaded = LoadedClip(model.eval(), tokenizer, {k: v for k, v in info.items() if v is not None})
    _LOADED[(name, pretrained)] = loaded
    return loaded


class ImageTower:
    """Builds the module posters go through: ``encode_image`` of the CLIP model."""

    def __init__(self, model: Any):
        self.model = model

    def __call__(self) -> Any:
        import torch

        class EncodeImage(torch.nn.Module):
            def __init__(self, clip: Any) -> None:
                super().__init__()
                self.clip = clip

            def forward(self, images: torch.Tensor) -> torch.Tensor:
                return self.clip.encode_image(images)

        return EncodeImage(self.model).eval()


@register_image_encoder("clip", output="clip_image_features", summary="open_clip CLIP image tower, ViT-B-32 by default")
def clip_image(options: EncoderOptions) -> ImageEncoder:
    """Poster embeddings of a CLIP image tower (``clip_image_features``)."""
    import torch

    loaded = load_clip(options)
    preprocess = loaded.preprocessing(options.preprocessing)
    with torch.inference_mode():
        dim = int(loaded.model.encode_image(torch.zeros(1, 3, preprocess.size, preprocess.size)).shape[-1])
    return ImageEncoder(name="clip", output="clip_image_features", dim=dim, build=ImageTower(loaded.model),
                        preprocess=preprocess,
                        info={**loaded.info, "layer": "encode_image (the image tower's embedding, not normalised)",
                              "preprocessing": preprocess.describe()})


@register_text_encoder("clip", output="clip_text_features", summary="open_clip CLIP text tower, ViT-B-32 by default")
def clip_text(options: EncoderOptions) -> TextEncoder:
    """Plot embeddings of a CLIP text tower (``clip_text_features``)."""
    import torch

    loaded = load_clip(options)
    device = torch_device(options)
    context = int(getattr(loaded.tokenizer, "context_length", 0) or 0)
    with torch.inference_mode():
        dim = int(loaded.model.encode_text(loaded.tokenizer(["a film"])).shape[-1])

    def encode_batch(texts: list[str]) -> np.ndarray:
        loaded.model.to(device)
        with torch.inference_mode():
            return loaded.model.encode_text(loaded.tokenizer(texts).to(device)).float().cpu().numpy()

    def encode(texts: Sequence[str]) -> np.ndarray:
        try:
            return encode_in_batches(texts, encode_batch, dim, BATCH_SIZE, "clip_text_features", options.progress)
        finally:
            loaded.model.to("cpu")

    info = {**loaded.info, "layer": "encode_text (the text tower's embedding, not normalised)",
            "preprocessing": f"the longest plot as written; the model's tokenizer, cut at {context or 'its'} tokens"}
    return TextEncoder(name="clip", output="clip_text_features", dim=dim, encode=encode, info=info, reads="text")
