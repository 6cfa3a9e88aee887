"""Fusion baselines of Table 2: Concatenate, Linear_sum and AVG_probs."""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from .base import Maxout, NeuralClassifier, classifier_head, input_dropout
from .mlp import MaxoutMLP
from .registry import register


class ConcatenateNetwork(nn.Module):
    """MaxoutMLP([x_v; x_t]): the inputs are concatenated before the classifier."""

    def __init__(self, inputs: tuple[str, ...], dims: Mapping[str, int], hidden: int, dropout: float):
        super().__init__()
        self.inputs = inputs
        self.classifier = classifier_head(sum(dims[name] for name in inputs), hidden, dropout)

    def forward(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return self.classifier(torch.cat([batch[name] for name in self.inputs], dim=1))


class LinearSumNetwork(nn.Module):
    """MaxoutMLP(sum_i maxout(W_i BN(x_i))): one maxout projection per modality, summed."""

    def __init__(self, inputs: tuple[str, ...], dims: Mapping[str, int], hidden: int, dropout: float):
        super().__init__()
        self.inputs = inputs
        self.projections = nn.ModuleDict({
            name: nn.Sequential(nn.BatchNorm1d(dims[name]), Maxout(dims[name], hidden, input_dropout(dropout))) for name in inputs
        })
        self.classifier = classifier_head(hidden, hidden, dropout, reads_features=False)

    def forward(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return self.classifier(sum(self.projections[name](batch[name]) for name in self.inputs))


class Concatenate(NeuralClassifier):
    def build(self, dims: Mapping[str, Any]) -> nn.Module:
        return ConcatenateNetwork(self.inputs, dims, self.hidden, self.dropout)


class LinearSum(NeuralClassifier):
    def build(self, dims: Mapping[str, Any]) -> nn.Module:
        return LinearSumNetwork(self.inputs, dims, self.hidden, self.dropout)


class AverageProbabilities:
    """AVG_probs: the mean of the probabilities of one MaxoutMLP per input.

    In the paper these are the two best unimodal models (MaxoutMLP on word2vec, MaxoutMLP on
    VGG features); each is trained on its own with the same hyperparameters.
    """

    def __init__(self, inputs: tuple[str, ...], **params: Any):
        self.inputs = tuple(inputs)
        self.params = params
        self.seed = params.get("seed", 0)

    def fit(self, train: Any, dev: Any) -> "AverageProbabilities":
        self.members_ = [MaxoutMLP((name,), **self.params).fit(train, dev) for name in self.inputs]
        curves = [member.history_ for member in self.members_]
        self.history_ = {
            "members": curves,
            "dev_macro_f1": [float(np.mean(values)) for values in zip(*(c["dev_macro_f1"] for c in curves))],
            "train_loss": [float(np.mean(values)) for values in zip(*(c["train_loss"] for c in curves))],
            "best_epoch": max(c["best_epoch"] for c in curves),
        }
        return self

    def predict_proba(self, inputs: Mapping[str, Any]) -> np.ndarray:
        return np.mean([member.predict_proba(inputs) for member in self.members_], axis=0)

    def get_params(self) -> dict[str, Any]:
        return dict(self.params)


register("Linear_sum", inputs=("vgg_features", "features"), modality="Multimodal", cls=LinearSum)
register("Concatenate", inputs=("vgg_features", "features"), modality="Multimodal", cls=Concatenate)
register("AVG_probs", inputs=("vgg_features", "features"), modality="Multimodal", cls=AverageProbabilities)
