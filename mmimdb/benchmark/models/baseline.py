"""Most_frequent: every movie gets the most frequent training genre (a floor for Table 2)."""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from .registry import register


@register("Most_frequent", inputs=(), modality="Reference", searchable=False)
class MostFrequentGenre:
    """Predicts the single most frequent genre of the training split for every movie."""

    def __init__(self, inputs: tuple[str, ...] = (), seed: int = 0, **_ignored: Any):
        self.inputs, self.seed = tuple(inputs), seed

    def fit(self, train: Any, dev: Any) -> "MostFrequentGenre":
        self.genre_ = int(np.asarray(train.labels).sum(axis=0).argmax())
        self.n_labels_ = np.asarray(train.labels).shape[1]
        self.history_ = {"train_loss": [], "dev_macro_f1": [], "best_epoch": 0}
        return self

    def predict_proba(self, inputs: Mapping[str, Any], n_rows: int | None = None) -> np.ndarray:
        n_rows = n_rows if n_rows is not None else len(next(iter(inputs.values())))
        scores = np.zeros((n_rows, self.n_labels_), dtype=np.float32)
        scores[:, self.genre_] = 1.0
        return scores

    def get_params(self) -> dict[str, Any]:
        return {"seed": self.seed}
