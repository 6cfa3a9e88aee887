"""The Gated Multimodal Unit (Arevalo et al. 2017, section 3, Figure 2).

Bimodal GMU (Figure 2b, one gate shared by the two modalities)::

    h_v = tanh(W_v x_v)
    h_t = tanh(W_t x_t)
    z   = sigmoid(W_z [x_v; x_t])
    h   = z * h_v + (1 - z) * h_t

GMU for N modalities (Figure 2a, one gate per modality)::

    h_i = tanh(W_i x_i)
    z_i = sigmoid(W_zi [x_1; ...; x_N])
    h   = sum_i z_i * h_i

Each x_i is the batch-normalised input of modality i. On top: the paper's MaxoutMLP
classifier (``BN -> Maxout -> BN -> Maxout -> BN -> Linear(23)``). ``z`` near 1 means the
unit listens to the poster (x_v), near 0 to the plot (x_t): Figure 8 counts them.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from ..training import run_batches
from .base import NeuralClassifier, classifier_head, input_dropout
from .registry import register
from ...dataset import hdf5


class BimodalGMU(nn.Module):
    """Figure 2b: h = z * tanh(W_v x_v) + (1 - z) * tanh(W_t x_t), z = sigmoid(W_z [x_v; x_t])."""

    def __init__(self, dim_v: int, dim_t: int, hidden: int, dropout: float):
        super().__init__()
        self.norm_v, self.norm_t = nn.BatchNorm1d(dim_v), nn.BatchNorm1d(dim_t)
        self.dropout = nn.Dropout(input_dropout(dropout))
        self.W_v = nn.Linear(dim_v, hidden, bias=False)
        self.W_t = nn.Linear(dim_t, hidden, bias=False)
        self.W_z = nn.Linear(dim_v + dim_t, hidden, bias=False)

    def forward(self, x_v: torch.Tensor, x_t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x_v, x_t = self.norm_v(x_v), self.norm_t(x_t)
        h_v = torch.tanh(self.W_v(self.dropout(x_v)))
        h_t = torch.tanh(self.W_t(self.dropout(x_t)))
        z = torch.sigmoid(self.W_z(self.dropout(torch.cat([x_v, x_t], dim=1))))
        h = z * h_v + (1 - z) * h_t
        return h, z


class MultimodalGMU(nn.Module):
    """Figure 2a: h = sum_i z_i * tanh(W_i x_i), z_i = sigmoid(W_zi [x_1; ...; x_N])."""

    def __init__(self, dims: list[int], hidden: int, dropout: float):
        super().__init__()
        self.norms = nn.ModuleList(nn.BatchNorm1d(d) for d in dims)
        self.dropout = nn.Dropout(input_dropout(dropout))
        self.W = nn.ModuleList(nn.Linear(d, hidden, bias=False) for d in dims)
        self.W_z = nn.ModuleList(nn.Linear(sum(dims), hidden, bias=False) for _ in dims)

    def forward(self, xs: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        xs = [norm(x) for norm, x in zip(self.norms, xs)]
        joint = self.dropout(torch.cat(xs, dim=1))
        h_i = torch.stack([torch.tanh(W(self.dropout(x))) for W, x in zip(self.W, xs)], dim=1)
        z_i = torch.stack([torch.sigmoid(W_z(joint)) for W_z in self.W_z], dim=1)
        return (z_i * h_i).sum(dim=1), z_i


class GMUNetwork(nn.Module):
    """A GMU over the named inputs, then the MaxoutMLP classifier; keeps the last gates."""

    def __init__(self, inputs: tuple[str, ...], dims: Mapping[str, int], hidden: int, dropout: float):
        super().__init__()
        self.inputs = inputs
        sizes = [dims[name] for name in inputs]
        self.gmu = BimodalGMU(*sizes, hidden, dropout) if len(inputs) == 2 else MultimodalGMU(sizes, hidden, dropout)
        self.classifier = classifier_head(hidden, hidden, dropout, reads_features=False)
        self.gates: torch.Tensor | None = None

    def forward(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        xs = [batch[name] for name in self.inputs]
        h, self.gates = self.gmu(*xs) if isinstance(self.gmu, BimodalGMU) else self.gmu(xs)
        return self.classifier(h)


class GMUClassifier(NeuralClassifier):
    """GMU classifier. With two inputs the first is the visual one (z -> 1 favours it)."""

    def build(self, dims: Mapping[str, Any]) -> nn.Module:
        return GMUNetwork(self.inputs, dims, self.hidden, self.dropout)

    def gates(self, inputs: Mapping[str, Any]) -> np.ndarray:
        """Gate activations: (n, hidden) for the bimodal GMU, (n, modalities, hidden) else."""
        parts = run_batches(self.network_, self._batcher(inputs), lambda net, _logits: net.gates.float().cpu().numpy())
        return np.concatenate(parts)


register("GMU", inputs=(hdf5.IMAGE_FEATURES, hdf5.TEXT_FEATURES), modality="Multimodal", cls=GMUClassifier)
# Figure 2a on the three dense views of a movie (not a row of the paper's Table 2).
register("GMU_3", inputs=(hdf5.IMAGE_FEATURES, hdf5.TEXT_FEATURES, hdf5.THREE_GRAMS), modality="Multimodal", cls=GMUClassifier)
