"""Recurrent text models: a GRU over the plot's token ids, its last state -> Linear(23).

RNN_transfer embeds tokens with the pretrained word vectors (the HDF5's ``embeddings``,
frozen: transfer); RNN_end2end learns its embeddings from scratch.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from .base import N_LABELS, NeuralClassifier, input_dropout, label_output
from .registry import register
from ...dataset import hdf5

END2END_EMBEDDING = 128


class RecurrentNetwork(nn.Module):
    def __init__(self, embedding: nn.Embedding, hidden: int, dropout: float, n_labels: int = N_LABELS):
        super().__init__()
        self.embedding = embedding
        self.embedding_dropout = nn.Dropout(input_dropout(dropout))
        self.dropout = nn.Dropout(dropout)
        self.rnn = nn.GRU(embedding.embedding_dim, hidden, batch_first=True)
        self.norm = nn.BatchNorm1d(hidden)
        self.output = label_output(hidden, n_labels)

    def forward(self, batch: Mapping[str, Any]) -> torch.Tensor:
        ids, lengths = batch[hdf5.SEQUENCES]
        embedded = self.embedding_dropout(self.embedding(ids))
        packed = pack_padded_sequence(embedded, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, last = self.rnn(packed)
        return self.output(self.dropout(self.norm(last[-1])))


class RNNClassifier(NeuralClassifier):
    def __init__(self, inputs: tuple[str, ...], transfer: bool = False, **params: Any):
        super().__init__(inputs, **params)
        self.transfer = transfer

    def build(self, dims: Mapping[str, Any]) -> nn.Module:
        if self.transfer:
            vectors = torch.as_tensor(np.asarray(self.shared_[hdf5.EMBEDDINGS], dtype=np.float32))
            # The ids index the embedding rows; the vocabulary is the embedding matrix.
            self.dims_[hdf5.SEQUENCES] = vectors.shape[0]
            embedding = nn.Embedding.from_pretrained(vectors, freeze=True, padding_idx=0)
        else:
            embedding = nn.Embedding(dims[hdf5.SEQUENCES], END2END_EMBEDDING, padding_idx=0)
        return RecurrentNetwork(embedding, self.hidden, self.dropout)


register("RNN_transfer", inputs=(hdf5.SEQUENCES,), shared=(hdf5.EMBEDDINGS,), modality="Text", cls=RNNClassifier, transfer=True)
register("RNN_end2end", inputs=(hdf5.SEQUENCES,), modality="Text", cls=RNNClassifier, transfer=False)
