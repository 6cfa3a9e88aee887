"""VGG16 in plain torch, in torchvision's state-dict layout; the paper's fc7 feature.

The weights are a user's file (``--vgg16-weights PATH``, ``$MMIMDB_VGG16_WEIGHTS``), else the
torch hub cache (``~/.cache/torch/hub/checkpoints/vgg16-397923af.pth``, where torchvision
puts them) or the data root's ``downloads/``, else they are downloaded from torchvision's URL
and checked (:mod:`.downloads`). torchvision is not needed: the layer layout below matches its keys
(``features.N.*``, ``classifier.N.*``). fc7 is ``classifier[:-1]``: after the second
4096-unit layer's ReLU (dropout is a no-op in eval mode).
"""
from __future__ import annotations

import os
from pathlib import Path

from . import register_image_encoder
from .base import EncoderOptions, ImageEncoder, WeightsFile, check_hash_in_name
from .downloads import VGG16_IMAGENET, locate_or_download
from .preprocessing import Preprocessing
from ...dataset import hdf5

VGG16_FILE = WeightsFile("VGG16 weights file (torchvision's vgg16-397923af.pth)", "--vgg16-weights", "MMIMDB_VGG16_WEIGHTS",
                         offline="--image efficientnet-lite0")
TORCHVISION_FILE_NAME = "vgg16-397923af.pth"
#: Conv widths, "M" = 2x2 max-pool: torchvision's configuration "D".
LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")
FC7_DIM = 4096


def hub_cache_path() -> Path:
    """Where torch hub (and torchvision) keep downloaded weights."""
    torch_home = os.environ.get("TORCH_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "torch")
    return Path(torch_home).expanduser() / "hub" / "checkpoints" / TORCHVISION_FILE_NAME


def vgg16_module():
    """An untrained VGG16 (torch ``nn.Module``) whose ``state_dict`` keys are torchvision's."""
    import torch
    from torch import nn

    class VGG16(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            layers: list[nn.Module] = []
            channels = 3
            for width in LAYOUT:
                if width == "M":
                    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
                else:
                    layers += [nn.Conv2d(channels, width, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
                    channels = width
            self.features = nn.Sequential(*layers)
            self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
            self.classifier = nn.Sequential(
                nn.Linear(512 * 7 * 7, 4096), nn.ReLU(inplace=True), nn.Dropout(),
                nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(),
                nn.Linear(4096, 1000),
            )

        def forward(self, images: torch.Tensor) -> torch.Tensor:
            """fc7 activations (B, 4096), after ReLU."""
            x = torch.flatten(self.avgpool(self.features(images)), 1)
            return self.classifier[:-1](x)

    return VGG16()


def _read_state(path: Path, mmap: bool = False) -> dict:
    """The state dict of ``path``, checked against VGG16's keys and shapes; a one-line
    :class:`UsageError` for a file that is not a state dict or does not fit."""
    import zipfile

    import torch

    zipped = zipfile.is_zipfile(path)
    try:
        with open(path, "rb") as handle:
            pickled = handle.read(1) == b"\x80"  # the legacy format starts with a pickle's protocol opcode
    except OSError as error:
        raise VGG16_FILE.error(path, f"cannot be read ({error.strerror or error})") from None
    if not zipped and not pickled:  # a text file, an HTML page: torch's unpickler would say KeyError 105
        raise VGG16_FILE.error(path, "is not a torch state dict (not a pickle or zip file)")
    try:
        # mmap: a check reads only the tensors' headers (torch's zip format; the legacy one cannot)
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap and zipped)
    except Exception as error:  # noqa: BLE001: any failure to unpickle the file means the same to the user
        reason = str(error).splitlines()[0][:120] if str(error) else type(error).__name__
        raise VGG16_FILE.error(path, f"is not a torch state dict ({reason})") from None
    if not isinstance(state, dict):
        raise VGG16_FILE.error(path, "is not a state dict")
    with torch.device("meta"):  # the shapes without allocating 138M parameters
        expected = {key: tuple(value.shape) for key, value in vgg16_module().state_dict().items()}
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(key for key in set(expected) & set(state)
                   if not hasattr(state[key], "shape") or tuple(state[key].shape) != expected[key])
    if missing or unexpected or wrong:
        reason = (f"missing key {missing[0]}" if missing else f"unexpected key {unexpected[0]}" if unexpected
                  else f"{wrong[0]} has shape {tuple(getattr(state[wrong[0]], 'shape', ()))}, not {expected[wrong[0]]}")
        raise VGG16_FILE.error(path, f"does not hold VGG16 weights in torchvision's layout ({reason})")
    return state


def load_vgg16(path: Path):
    """VGG16 with the weights of ``path`` (eval mode); :class:`UsageError` if they do not fit."""
    model = vgg16_module()
    model.load_state_dict(_read_state(path), strict=True)
    return model.eval()


@register_image_encoder("vgg16", output=hdf5.IMAGE_FEATURES, summary="the paper's fc7; downloaded when missing")
def vgg16(options: EncoderOptions) -> ImageEncoder:
    """The paper's image feature: VGG16 fc7 after ReLU (``vgg_features``, 4096-d)."""
    path, source = locate_or_download(VGG16_FILE, options.vgg16_weights, VGG16_IMAGENET, url=options.vgg16_url,
                                      also=[hub_cache_path()], downloads_dir=options.downloads_dir,
                                      download=options.download, say=options.say, progress=options.progress)
    digest = check_hash_in_name(path, VGG16_FILE)
    _read_state(path, mmap=True)  # a file that is not VGG16's weights fails here, before any feature is built
    preprocess = Preprocessing(options.preprocessing, options.image_size or 224)
    return ImageEncoder(
        name="vgg16", output=hdf5.IMAGE_FEATURES, dim=FC7_DIM, build=lambda: load_vgg16(path), preprocess=preprocess,
        info={"file": str(path), "sha256": digest, **source, "layer": "fc7 (classifier[:-1], after ReLU)",
              "preprocessing": preprocess.describe()},
    )
