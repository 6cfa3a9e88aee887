"""Mixture of experts (Table 2's MoE rows): one expert per modality, mixed by a softmax gate.

    p(y_c | x) = sum_k g_kc(x) * sigmoid(expert_k(x_k))_c,   g_c = softmax_k(W_g BN([x_v; x_t]))

Untied: one 2-way gate per class c; tied: one gate shared by the 23 classes. Experts are
logistic regressions or MaxoutMLPs. With logistic experts the whole model is linear in its
inputs before the sigmoids and softmax, and, like ``Logistic_*``, has no dropout (see
:class:`mmimdb.benchmark.models.mlp.LogisticRegression`).
"""
from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import nn

from .base import N_LABELS, NeuralClassifier, classifier_head, input_dropout
from .mlp import LINEAR_HYPERPARAMETERS, logistic
from .registry import register
from ...dataset import hdf5

_EPS = 1e-6


class MixtureOfExperts(nn.Module):
    def __init__(self, inputs: tuple[str, ...], dims: Mapping[str, int], hidden: int, dropout: float,
                 expert: str, tied: bool, n_labels: int = N_LABELS):
        super().__init__()
        self.inputs, self.tied, self.n_labels = inputs, tied, n_labels
        self.experts = nn.ModuleDict({
            name: logistic(dims[name], dropout) if expert == "logistic" else classifier_head(dims[name], hidden, dropout)
            for name in inputs
        })
        joint = sum(dims[name] for name in inputs)
        gates = len(inputs) * (1 if tied else n_labels)
        self.gate = nn.Sequential(nn.BatchNorm1d(joint), nn.Dropout(input_dropout(dropout)), nn.Linear(joint, gates))
        self.gates: torch.Tensor | None = None

    def forward(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        gate_logits = self.gate(torch.cat([batch[name] for name in self.inputs], dim=1)).float()
        gate_logits = gate_logits.view(-1, len(self.inputs), 1 if self.tied else self.n_labels)
        self.gates = torch.softmax(gate_logits, dim=1)  # (n, experts, 1 or classes)
        expert_probs = torch.stack([torch.sigmoid(self.experts[name](batch[name]).float()) for name in self.inputs], dim=1)
        probs = (self.gates * expert_probs).sum(dim=1).clamp(_EPS, 1 - _EPS)
        # The loss takes logits: return logit(p), in float32 even under autocast.
        return torch.log(probs) - torch.log1p(-probs)


class MoE(NeuralClassifier):
    def __init__(self, inputs: tuple[str, ...], expert: str = "maxout", tied: bool = False, **params: Any):
        super().__init__(inputs, **params)
        self.expert, self.tied = expert, tied

    def build(self, dims: Mapping[str, Any]) -> nn.Module:
        return MixtureOfExperts(self.inputs, dims, self.hidden, self.dropout, self.expert, self.tied)


_PAIR = (hdf5.IMAGE_FEATURES, hdf5.TEXT_FEATURES)
register("MoE_MaxoutMLP", inputs=_PAIR, modality="Multimodal", cls=MoE, expert="maxout", tied=False)
register("MoE_MaxoutMLP_tied", inputs=_PAIR, modality="Multimodal", cls=MoE, expert="maxout", tied=True)
register("MoE_Logistic", inputs=_PAIR, modality="Multimodal", cls=MoE, expert="logistic", tied=False, dropout=0.0,
         hyperparameters=LINEAR_HYPERPARAMETERS)
register("MoE_Logistic_tied", inputs=_PAIR, modality="Multimodal", cls=MoE, expert="logistic", tied=True, dropout=0.0,
         hyperparameters=LINEAR_HYPERPARAMETERS)
