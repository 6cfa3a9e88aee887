"""Linear probes: one logistic-regression row per encoder output, beside Table 2.

``Probe_<dataset>`` is the probe of one feature dataset (``Probe_minilm_features``,
``Probe_clip_image_features``, ...): standardised features (train mean and std), 23
independent L2-regularised logistic regressions fitted to convergence (full-batch L-BFGS),
and the regularisation strength C chosen on dev macro-F1 at threshold 0.5 from a
logarithmic grid, as CLIP's linear-probe protocol does (there with a search over C on a
validation split). It answers "how much genre does this encoder's vector carry, linearly",
so encoders can be compared with each other and with the paper's models.

Probes are registered on demand (``mmimdb benchmark --probe minilm_features,...`` or
``--probe all``), not at import: ``--model all`` stays the paper's Table 2.

>>> name = register_probe("minilm_features")        # doctest: +SKIP
>>> models.get(name).create().fit(train, dev)        # doctest: +SKIP
"""
from __future__ import annotations

import os
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from ...errors import UsageError
from .registry import MODELS, register
from ...dataset import hdf5

#: C values tried, strongest regularisation first (each fit starts from the previous one).
C_GRID = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)
MAX_ITERATIONS = 100
PREFIX = "Probe_"
#: Table 2's row groups, by the modality an encoder's output has.
_MODALITY = {"text": "Text", "image": "Visual"}
#: Datasets that are not one feature vector per movie.
NOT_VECTORS = (hdf5.SEQUENCES, hdf5.EMBEDDINGS, hdf5.IMAGES, hdf5.GENRES_NAME, hdf5.IMDB_IDS)


class LinearProbe:
    """Logistic regression on one standardised feature, C chosen on dev macro-F1.

    Parameters are fixed by the protocol (``c_grid``), so the random search of the paper's
    models does not apply (registered with ``searchable=False``); the training settings the
    runner passes (epochs, patience, hidden, ...) do not apply either and are ignored.
    """

    def __init__(self, inputs: tuple[str, ...], c_grid: Sequence[float] = C_GRID, max_iterations: int = MAX_ITERATIONS,
                 seed: int = 0, device: str = "cpu", **_ignored: Any):
        if len(inputs) != 1:
            raise UsageError(f"a linear probe reads one feature, not {len(inputs)}")
        self.inputs, self.c_grid, self.max_iterations = tuple(inputs), tuple(c_grid), max_iterations
        self.seed, self.device = seed, device

    def _standardise(self, features: Any) -> Any:
        import torch

        x = torch.as_tensor(np.asarray(features, dtype=np.float32), device=self.device_)
        return (x - self.mean_) / self.std_

    def fit(self, train: Any, dev: Any) -> "LinearProbe":
        """Fit one probe per C on ``train``; keep the C with the best dev macro-F1."""
        import torch

        from ...device import resolve_device
        from ..metrics import macro_f1

        (name,) = self.inputs
        self.device_ = resolve_device(self.device).type
        raw = torch.as_tensor(np.asarray(train.inputs[name], dtype=np.float32), device=self.device_)
        self.mean_ = raw.mean(dim=0)
        self.std_ = raw.std(dim=0).clamp_min(1e-6)
        x, x_dev = (raw - self.mean_) / self.std_, self._standardise(dev.inputs[name])
        y = torch.as_tensor(np.asarray(train.labels, dtype=np.float32), device=self.device_)
        weight = torch.zeros(x.shape[1], y.shape[1], device=self.device_, requires_grad=True)
        bias = torch.zeros(y.shape[1], device=self.device_, requires_grad=True)
        scores, losses, best = [], [], None
        for c in self.c_grid:
            # sklearn's objective per label, divided by n: mean BCE + ||w||^2 / (2 C n)
            penalty = 1.0 / (2.0 * c * len(x))
            optimizer = torch.optim.LBFGS([weight, bias], max_iter=self.max_iterations, tolerance_grad=1e-6,
                                          tolerance_change=1e-9, history_size=20, line_search_fn="strong_wolfe")

            def closure() -> torch.Tensor:
                optimizer.zero_grad()
                loss = torch.nn.functional.binary_cross_entropy_with_logits(x @ weight + bias, y, reduction="sum") / len(x)
                loss = loss + penalty * weight.pow(2).sum()
                loss.backward()
                return loss

            loss = float(optimizer.step(closure).detach())
            with torch.no_grad():
                probabilities = torch.sigmoid(x_dev @ weight + bias).cpu().numpy()
            score = macro_f1(np.asarray(dev.labels), probabilities)
            scores.append(score)
            losses.append(loss)
            if best is None or score > best[0]:
                best = (score, c, weight.detach().clone(), bias.detach().clone())
        _, self.c_, self.weight_, self.bias_ = best
        self.history_ = {"train_loss": [], "dev_macro_f1": [], "best_epoch": 0, "c_grid": list(self.c_grid),
                         "dev_macro_f1_per_c": scores, "train_objective_per_c": losses, "best_c": self.c_}
        return self

    def predict_proba(self, inputs: Mapping[str, Any]) -> np.ndarray:
        """Probabilities (n, 23) for the rows of ``inputs``."""
        import torch

        with torch.no_grad():
            logits = self._standardise(inputs[self.inputs[0]]) @ self.weight_ + self.bias_
        return torch.sigmoid(logits).cpu().numpy().astype(np.float32)

    def get_params(self) -> dict[str, Any]:
        return {"c_grid": list(self.c_grid), "max_iterations": self.max_iterations, "seed": self.seed}


def probe_name(dataset: str) -> str:
    return f"{PREFIX}{dataset}"


def _modality(dataset: str, hdf5_path: str | os.PathLike | None) -> str:
    """Text or Visual: as the features stage recorded it on the dataset, else as the
    registered encoder that writes it (or TF-IDF) says."""
    from ...features.encoders import encoder_outputs
    from ...features.text import TFIDF_OUTPUTS

    if hdf5_path is not None:
        from ...dataset.built import BuiltDataset

        data = BuiltDataset.from_hdf5(hdf5_path)
        recorded = data.attrs(dataset).get("modality") if dataset in data.datasets() else None
        if isinstance(recorded, bytes):
            recorded = recorded.decode()
        if recorded in _MODALITY:
            return _MODALITY[recorded]
    kinds = {**encoder_outputs(), **{output: "text" for output in TFIDF_OUTPUTS}}
    if dataset not in kinds:
        raise UsageError(f"--probe {dataset}: not a feature vector of a known encoder (known: {', '.join(sorted(kinds))})")
    return _MODALITY[kinds[dataset]]


def register_probe(dataset: str, hdf5_path: str | os.PathLike | None = None) -> str:
    """Register ``Probe_<dataset>`` (if not yet) and return its name."""
    name = probe_name(dataset)
    if name not in MODELS:
        if dataset in NOT_VECTORS:
            raise UsageError(f"--probe {dataset}: a linear probe reads one feature vector per movie, not '{dataset}'")
        register(name, inputs=(dataset,), modality=_modality(dataset, hdf5_path), cls=LinearProbe, searchable=False)
    return name


def register_probes(datasets: Iterable[str], data: Any) -> list[str]:
    """Register the probes ``--probe`` asks for on ``data`` (a BenchmarkData) and return
    their names. ``all`` is every registered encoder's output the file has under its own
    name (an input served by another dataset through an alias has that dataset's probe)."""
    from ...features.encoders import encoder_outputs

    names: list[str] = []
    for dataset in datasets:
        if dataset == "all":
            chosen = [output for output in encoder_outputs() if output in data.available and output not in data.aliases]
        else:
            chosen = [dataset]
        for output in chosen:
            name = register_probe(output, data.path if output in data.available and output not in data.aliases else None)
            if name not in names:
                names.append(name)
    return names
