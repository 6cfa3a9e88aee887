"""The fusion methods MultiBench (Liang et al. 2021) reports on MM-IMDb that Table 2 lacks:
early fusion, late fusion and low-rank tensor fusion, with MultiBench's architectures
(``examples/multimedia/mmimdb_simple_{early,late}_fusion.py``, ``mmimdb_low_rank_tensor.py``;
``unimodals/common_models.py`` MaxOut_MLP, ``fusions/common_fusions.py`` Concat and
LowRankTensorFusion), trained by this package's one training loop (Adam, the paper's
hyperparameters and search) so that their rows compare with Table 2's.

- **EF** (``MultiBench_EF``): the raw vectors concatenated, ``[x_t; x_v]``, into a two-layer
  MaxOut MLP with a linear output (MultiBench: ``MaxOut_MLP(23, 512, 4396)``).
- **LF** (``MultiBench_LF``): one MaxOut MLP encoder per modality (text ``300 -> h -> h``,
  image ``4096 -> 2h -> h``; MultiBench: h = 512), their outputs concatenated, a linear layer
  to the 23 genres.
- **LRTF** (``MultiBench_LRTF``): the same encoders, fused by low-rank tensor fusion (Liu et
  al. 2018): ``prod_m (W_m^(r) [1; h_m])`` summed over ``rank`` factors with learnt weights,
  to h, then a linear layer (MultiBench: output 512, rank 128).

The encoders follow MaxOut_MLP: ``BN -> Maxout -> BN -> dropout -> Maxout -> BN -> dropout``.
"""
from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import nn

from .base import Maxout, NeuralClassifier, input_dropout, label_output
from .registry import register

#: Low-rank tensor fusion's rank on MM-IMDb in MultiBench.
LRTF_RANK = 128
#: MultiBench's inputs on MM-IMDb: the text vector, then the image vector.
INPUTS = ("features", "vgg_features")


class MaxoutEncoder(nn.Sequential):
    """MultiBench's MaxOut_MLP without its output layer: ``BN -> Maxout(first) -> BN ->
    dropout -> Maxout(second) -> BN -> dropout``."""

    def __init__(self, in_features: int, first: int, second: int, dropout: float):
        super().__init__(nn.BatchNorm1d(in_features), Maxout(in_features, first, input_dropout(dropout)),
                         nn.BatchNorm1d(first), Maxout(first, second, dropout), nn.BatchNorm1d(second),
                         nn.Dropout(dropout))
        self.out_features = second


def _encoders(inputs: tuple[str, ...], dims: Mapping[str, int], hidden: int, dropout: float) -> nn.ModuleDict:
    """One encoder per input; the image vector's first layer twice as wide (1024 for 512)."""
    return nn.ModuleDict({name: MaxoutEncoder(dims[name], 2 * hidden if name == "vgg_features" else hidden, hidden,
                                              dropout) for name in inputs})


class EarlyFusionNetwork(nn.Module):
    def __init__(self, inputs: tuple[str, ...], dims: Mapping[str, int], hidden: int, dropout: float):
        super().__init__()
        self.inputs = inputs
        self.encoder = MaxoutEncoder(sum(dims[name] for name in inputs), hidden, hidden, dropout)
        self.output = label_output(hidden)

    def forward(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return self.output(self.encoder(torch.cat([batch[name] for name in self.inputs], dim=1)))


class LateFusionNetwork(nn.Module):
    def __init__(self, inputs: tuple[str, ...], dims: Mapping[str, int], hidden: int, dropout: float):
        super().__init__()
        self.inputs = inputs
        self.encoders = _encoders(inputs, dims, hidden, dropout)
        self.output = label_output(hidden * len(inputs))

    def forward(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return self.output(torch.cat([self.encoders[name](batch[name]) for name in self.inputs], dim=1))


class LowRankTensorFusion(nn.Module):
    """``sum_r w_r prod_m (W_m^(r) [1; h_m]) + b``: the outer product of the modalities
    (each with a 1 appended, so that unimodal terms survive) never formed, rank by rank."""

    def __init__(self, input_dims: list[int], output_dim: int, rank: int):
        super().__init__()
        self.factors = nn.ParameterList([nn.Parameter(torch.empty(rank, dim + 1, output_dim)) for dim in input_dims])
        self.fusion_weights = nn.Parameter(torch.empty(1, rank))
        self.fusion_bias = nn.Parameter(torch.zeros(1, output_dim))
        for factor in self.factors:
            nn.init.xavier_normal_(factor)
        nn.init.xavier_normal_(self.fusion_weights)

    def forward(self, modalities: list[torch.Tensor]) -> torch.Tensor:
        fused = 1
        for modality, factor in zip(modalities, self.factors):
            with_one = torch.cat([torch.ones_like(modality[:, :1]), modality], dim=1)
            fused = fused * torch.matmul(with_one, factor)  # (rank, batch, output)
        return torch.matmul(self.fusion_weights, fused.permute(1, 0, 2)).squeeze(1) + self.fusion_bias


class LowRankFusionNetwork(nn.Module):
    def __init__(self, inputs: tuple[str, ...], dims: Mapping[str, int], hidden: int, dropout: float,
                 rank: int = LRTF_RANK):
        super().__init__()
        self.inputs = inputs
        self.encoders = _encoders(inputs, dims, hidden, dropout)
        self.fusion = LowRankTensorFusion([hidden] * len(inputs), hidden, rank)
        self.output = label_output(hidden)

    def forward(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return self.output(self.fusion([self.encoders[name](batch[name]) for name in self.inputs]))


@register("MultiBench_EF", inputs=INPUTS, modality="Multimodal")
class MultiBenchEarlyFusion(NeuralClassifier):
    def build(self, dims: Mapping[str, Any]) -> nn.Module:
        return EarlyFusionNetwork(self.inputs, dims, self.hidden, self.dropout)


@register("MultiBench_LF", inputs=INPUTS, modality="Multimodal")
class MultiBenchLateFusion(NeuralClassifier):
    def build(self, dims: Mapping[str, Any]) -> nn.Module:
        return LateFusionNetwork(self.inputs, dims, self.hidden, self.dropout)


@register("MultiBench_LRTF", inputs=INPUTS, modality="Multimodal")
class MultiBenchLowRankTensorFusion(NeuralClassifier):
    def build(self, dims: Mapping[str, Any]) -> nn.Module:
        return LowRankFusionNetwork(self.inputs, dims, self.hidden, self.dropout)
