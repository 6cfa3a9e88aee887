"""Single-modality models: MaxoutMLP (2 or 1 hidden layers) and logistic regression.

Each is registered once per feature it is reported on in Table 2: ``_w2v`` reads the text
vector (``features``; word2vec in the paper), ``_3grams`` the char-3-gram TF-IDF,
``VGG_Transfer`` the image vector (``vgg_features``).
"""
from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import nn

from .base import N_LABELS, NeuralClassifier, classifier_head, input_dropout, label_output
from .registry import register
from ...dataset import hdf5


class SingleInput(nn.Module):
    """Applies ``body`` to the one input ``name``."""

    def __init__(self, name: str, body: nn.Module):
        super().__init__()
        self.name, self.body = name, body

    def forward(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return self.body(batch[self.name])


def logistic(in_features: int, dropout: float, n_labels: int = N_LABELS) -> nn.Sequential:
    """Logistic regression on batch-normalised input: ``BN -> dropout -> Linear(23)`` (the
    dropout of a layer that reads the features: at most ``INPUT_DROPOUT_MAX``)."""
    return nn.Sequential(nn.BatchNorm1d(in_features), nn.Dropout(input_dropout(dropout)), label_output(in_features, n_labels))


class MaxoutMLP(NeuralClassifier):
    """The paper's MaxoutMLP on one feature (``hidden_layers`` maxout layers of 2 pieces)."""

    def __init__(self, inputs: tuple[str, ...], hidden_layers: int = 2, **params: Any):
        super().__init__(inputs, **params)
        self.hidden_layers = hidden_layers

    def build(self, dims: Mapping[str, Any]) -> nn.Module:
        (name,) = self.inputs
        return SingleInput(name, classifier_head(dims[name], self.hidden, self.dropout, self.hidden_layers))


class LogisticRegression(NeuralClassifier):
    """Logistic regression (23 independent sigmoids) on one feature, as a textbook fits it:
    standardised input (batch norm), no dropout, early stopping on dev.

    Dropout on the input of a linear model acts as a strong L2 penalty: with the paper's 0.5
    Logistic_w2v stayed near the genre frequencies (greatest films, GloVe-50: test macro-F1
    .13 against scikit-learn's .26). So its only hyperparameters are the learning rate, the
    initialisation range and the max-norm; ``dropout`` can still be given explicitly.
    """

    def __init__(self, inputs: tuple[str, ...], dropout: float = 0.0, **params: Any):
        super().__init__(inputs, dropout=dropout, **params)

    def build(self, dims: Mapping[str, Any]) -> nn.Module:
        (name,) = self.inputs
        return SingleInput(name, logistic(dims[name], self.dropout))


register("MaxoutMLP_w2v", inputs=(hdf5.TEXT_FEATURES,), modality="Text", cls=MaxoutMLP, family="MaxoutMLP")
register("MaxoutMLP_w2v_1_hidden", inputs=(hdf5.TEXT_FEATURES,), modality="Text", cls=MaxoutMLP, hidden_layers=1,
         family="MaxoutMLP_1_hidden")
#: What a logistic regression has of the search's hyperparameters (no hidden layer, no dropout).
LINEAR_HYPERPARAMETERS = ("lr", "init_range", "max_norm")

register("Logistic_w2v", inputs=(hdf5.TEXT_FEATURES,), modality="Text", cls=LogisticRegression,
         hyperparameters=LINEAR_HYPERPARAMETERS, family="Logistic")
register("MaxoutMLP_3grams", inputs=(hdf5.THREE_GRAMS,), modality="Text", cls=MaxoutMLP, family="MaxoutMLP")
register("Logistic_3grams", inputs=(hdf5.THREE_GRAMS,), modality="Text", cls=LogisticRegression,
         hyperparameters=LINEAR_HYPERPARAMETERS, family="Logistic")
register("VGG_Transfer", inputs=(hdf5.IMAGE_FEATURES,), modality="Visual", cls=MaxoutMLP, family="MaxoutMLP")
