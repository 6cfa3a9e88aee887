"""Building blocks shared by the models, and the estimator every neural model derives from.

Every linear layer has dropout on its input (the paper's regularisation), at most
``INPUT_DROPOUT_MAX`` where the layer reads the features themselves; every modality enters
through batch norm, as in the original code.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from ...records.genres import GENRES
from ...device import resolve_device
from ..training import DEFAULT_PARAMS, Batcher, TrainConfig, fit_network, predict_scores
from ...dataset import hdf5

N_LABELS = len(GENRES)
#: The most dropout a layer that reads the input features gets (hidden layers get ``dropout``).
#: Srivastava et al. (2014) keep 80% of the input units and 50% of the hidden ones: half of a
#: 50- or 300-d text vector dropped is noise a shallow model cannot average out. With the
#: paper's 0.5 on the input too, MaxoutMLP_w2v_1_hidden ended .08-.10 macro-F1 below
#: scikit-learn's MLPClassifier on the same features (planted signal and greatest films).
INPUT_DROPOUT_MAX = 0.2


def input_dropout(dropout: float) -> float:
    """The dropout of a layer that reads the input features."""
    return min(dropout, INPUT_DROPOUT_MAX)


class Maxout(nn.Module):
    """maxout(x) = max_k (W_k x + b_k) over ``pieces`` linear pieces, with input dropout."""

    def __init__(self, in_features: int, out_features: int, dropout: float, pieces: int = 2):
        super().__init__()
        self.out_features, self.pieces = out_features, pieces
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(in_features, out_features * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pieces = self.linear(self.dropout(x)).view(-1, self.out_features, self.pieces)
        return pieces.max(dim=-1).values


def classifier_head(in_features: int, hidden: int, dropout: float, hidden_layers: int = 2,
                    n_labels: int = N_LABELS, reads_features: bool = True) -> nn.Sequential:
    """The paper's MaxoutMLP: ``BN -> [Maxout(h, 2 pieces) -> BN] x layers -> Linear(23)``.

    ``reads_features``: its input is the features (input dropout, see ``INPUT_DROPOUT_MAX``),
    not a hidden representation such as the GMU's ``h``. Returns logits; the sigmoid is in the
    loss (binary cross-entropy).
    """
    layers: list[nn.Module] = [nn.BatchNorm1d(in_features)]
    width = in_features
    for layer in range(hidden_layers):
        first = input_dropout(dropout) if layer == 0 and reads_features else dropout
        layers += [Maxout(width, hidden, first), nn.BatchNorm1d(hidden)]
        width = hidden
    layers += [nn.Dropout(dropout), label_output(width, n_labels)]
    return nn.Sequential(*layers)


def label_output(in_features: int, n_labels: int = N_LABELS) -> nn.Linear:
    """The last layer of a model: one logit per genre.

    Marked so that :func:`mmimdb.benchmark.training.fit_network` starts its bias at the
    training split's log-odds of each genre: an untrained model then predicts the genre
    frequencies, not 0.5 everywhere (which scores like predicting every genre and traps early
    stopping at the first epoch). Use it for the output layer of a model of your own.
    """
    layer = nn.Linear(in_features, n_labels)
    layer.starts_at_prior = True
    return layer


def input_dims(split: Any, inputs: tuple[str, ...]) -> dict[str, Any]:
    """Input sizes a network is built for: feature width, image shape, or vocabulary size."""
    dims: dict[str, Any] = {}
    for name in inputs:
        value = split.inputs[name]
        if name == hdf5.SEQUENCES:
            dims[name] = int(max((int(row.max()) for row in value if len(row)), default=0)) + 1
        elif name == hdf5.IMAGES:
            dims[name] = tuple(value.row_shape if hasattr(value, "row_shape") else np.asarray(value).shape[1:])
        else:
            dims[name] = int(np.asarray(value).shape[1])
    return dims


class NeuralClassifier:
    """A neural multi-label classifier trained by :func:`mmimdb.benchmark.training.fit_network`.

    Subclasses implement ``build(dims) -> nn.Module`` (forward: ``{input: tensor} ->
    logits (n, 23)``). Parameters are the paper's hyperparameters plus training settings;
    ``fit`` sets ``network_``, ``history_`` and returns ``self``.
    """

    def __init__(self, inputs: tuple[str, ...], hidden: int = DEFAULT_PARAMS["hidden"],
                 dropout: float = DEFAULT_PARAMS["dropout"], lr: float = DEFAULT_PARAMS["lr"],
                 init_range: float | None = None, max_norm: float | None = None, epochs: int = 200,
                 patience: int = 20, batch_size: int = 128, seed: int = 0, device: str = "cpu",
                 progress: str | None = None):
        self.inputs = tuple(inputs)
        self.hidden, self.dropout, self.lr = hidden, dropout, lr
        self.init_range, self.max_norm = init_range, max_norm
        self.epochs, self.patience, self.batch_size = epochs, patience, batch_size
        self.seed, self.device, self.progress = seed, device, progress

    def build(self, dims: Mapping[str, Any]) -> nn.Module:
        raise NotImplementedError

    def _vocabulary(self) -> int | None:
        return self.dims_.get(hdf5.SEQUENCES) if hdf5.SEQUENCES in self.inputs else None

    def prepare(self, train: Any) -> tuple[nn.Module, TrainConfig]:
        """The untrained network and how ``fit`` trains it (the batched search starts here too)."""
        self.device_ = resolve_device(self.device).type
        self.shared_ = dict(getattr(train, "shared", {}) or {})
        self.dims_ = input_dims(train, self.inputs)
        torch.manual_seed(self.seed)  # the initial weights depend on the seed only
        network = self.build(self.dims_)
        config = TrainConfig(epochs=self.epochs, patience=self.patience, batch_size=self.batch_size,
                             lr=self.lr, init_range=self.init_range, max_norm=self.max_norm,
                             seed=self.seed, device=self.device_, progress=self.progress)
        return network, config

    def fit(self, train: Any, dev: Any) -> "NeuralClassifier":
        """Train on ``train`` with early stopping on ``dev`` (both :class:`Split`)."""
        self.network_, config = self.prepare(train)
        select = lambda split: type(split)(split.name, {k: split.inputs[k] for k in self.inputs}, split.labels, split.ids)
        self.history_ = fit_network(self.network_, select(train), select(dev), config, self._vocabulary())
        return self

    def _batcher(self, inputs: Mapping[str, Any]) -> Batcher:
        return Batcher({name: inputs[name] for name in self.inputs}, self.device_, self._vocabulary())

    def predict_proba(self, inputs: Mapping[str, Any]) -> np.ndarray:
        """Probabilities (n, 23) for the rows of ``inputs`` ({dataset name: rows})."""
        return predict_scores(self.network_, self._batcher(inputs))

    def get_params(self) -> dict[str, Any]:
        return {"hidden": self.hidden, "dropout": self.dropout, "lr": self.lr, "init_range": self.init_range,
                "max_norm": self.max_norm, "epochs": self.epochs, "patience": self.patience,
                "batch_size": self.batch_size, "seed": self.seed}
