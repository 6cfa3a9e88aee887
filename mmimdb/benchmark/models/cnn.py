"""CNN_end2end: a small convolutional network trained from scratch on the posters.

Five convolutions (kernels 5, 3, 3, 3, 3; 16 filters each), each followed by ReLU and 2x2
max pooling, on the 3 x 256 x 160 images of the HDF5 (any size works), then Linear(23).
"""
from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import nn

from ...errors import UsageError
from .base import N_LABELS, NeuralClassifier, label_output
from .registry import register
from ...dataset import hdf5

KERNELS = (5, 3, 3, 3, 3)
FILTERS = 16


class ConvNetwork(nn.Module):
    def __init__(self, image_shape: tuple[int, int, int], dropout: float, n_labels: int = N_LABELS):
        super().__init__()
        channels, height, width = image_shape
        layers: list[nn.Module] = [nn.BatchNorm2d(channels)]  # the stored pixels are mean-centred, not scaled
        for kernel in KERNELS:
            layers += [nn.Conv2d(channels, FILTERS, kernel, padding=kernel // 2), nn.ReLU(), nn.MaxPool2d(2)]
            channels, height, width = FILTERS, height // 2, width // 2
        self.features = nn.Sequential(*layers)
        flat = FILTERS * height * width
        self.output = nn.Sequential(nn.Flatten(), nn.BatchNorm1d(flat), nn.Dropout(dropout), label_output(flat, n_labels))

    def forward(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return self.output(self.features(batch[hdf5.IMAGES]))


class CNNClassifier(NeuralClassifier):
    def build(self, dims: Mapping[str, Any]) -> nn.Module:
        shape = dims[hdf5.IMAGES]
        smallest = 2 ** len(KERNELS)
        if len(shape) != 3 or min(shape[1:]) < smallest:
            shown = " x ".join(str(size) for size in shape)
            raise UsageError(f"CNN_end2end: images of {shown} are too small for its {len(KERNELS)} 2x2 poolings "
                             f"(at least {smallest} x {smallest} pixels); build the HDF5 from full-size posters")
        return ConvNetwork(shape, self.dropout)


register("CNN_end2end", inputs=(hdf5.IMAGES,), modality="Visual", cls=CNNClassifier)
