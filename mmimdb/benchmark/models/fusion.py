"""Fusion baselines of Table 2: Concatenate, Linear_sum and AVG_probs."""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from .base import Maxout, NeuralClassifier, classifier_head, input_dropout
from .registry import register
from ...dataset import hdf5

#: The paper's "two best unimodal models" that AVG_probs averages: visual, then textual.
AVG_PROBS_MEMBERS = ("VGG_Transfer", "MaxoutMLP_w2v")


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
    """AVG_probs: the mean of the probabilities of the best unimodal models, each trained on
    its own, as in the paper (MaxoutMLP on the image vector, MaxoutMLP on the text vector).

    What AVG_probs is lives here once: its ``members`` (registered model names) and its rule,
    :meth:`combine`. ``mmimdb benchmark`` applies that rule to the members' own runs of the
    same benchmark (each with its own search and seeds, the rows printed beside it; see
    :func:`mmimdb.benchmark.runner.average_model`); ``fit`` trains the members here instead,
    for use from Python: ``member_params`` gives each its own hyperparameters, the other
    ``params`` (epochs, seed, device, ...) go to every member.
    """

    def __init__(self, inputs: tuple[str, ...], members: tuple[str, ...] = AVG_PROBS_MEMBERS,
                 member_params: dict[str, dict[str, Any]] | None = None, **params: Any):
        self.inputs, self.members = tuple(inputs), tuple(members)
        self.member_params = dict(member_params or {})
        self.params = params
        self.seed = params.get("seed", 0)

    @staticmethod
    def combine(probabilities: list[np.ndarray]) -> np.ndarray:
        """AVG_probs' prediction from its members' probabilities (each (n, labels)): their plain mean."""
        return np.mean(np.stack(probabilities), axis=0).astype(np.float32)

    def fit(self, train: Any, dev: Any) -> "AverageProbabilities":
        from .registry import get

        self.members_ = [get(name).create(**{**self.params, **self.member_params.get(name, {})}).fit(train, dev)
                         for name in self.members]
        self.history_ = {"members": {name: member.history_ for name, member in zip(self.members, self.members_)},
                         "best_epoch": max(member.history_["best_epoch"] for member in self.members_)}
        return self

    def predict_proba(self, inputs: Mapping[str, Any]) -> np.ndarray:
        return self.combine([member.predict_proba(inputs) for member in self.members_])

    def get_params(self) -> dict[str, Any]:
        return {**self.params, "members": self.members, "member_params": self.member_params}


register("Linear_sum", inputs=(hdf5.IMAGE_FEATURES, hdf5.TEXT_FEATURES), modality="Multimodal", cls=LinearSum)
register("Concatenate", inputs=(hdf5.IMAGE_FEATURES, hdf5.TEXT_FEATURES), modality="Multimodal", cls=Concatenate)
register("AVG_probs", inputs=(hdf5.IMAGE_FEATURES, hdf5.TEXT_FEATURES), modality="Multimodal", cls=AverageProbabilities,
         searchable=False, hyperparameters=(), members=AVG_PROBS_MEMBERS)
