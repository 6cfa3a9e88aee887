"""scikit-learn fits of the shallow baselines of Table 2, the yardstick they are held to.

A textbook fit of a linear or one-hidden-layer model on the same features and split is hard to
beat by accident; our trained baselines must come close to it (``tests/test_baselines.py``,
``benchmarks/baselines_vs_sklearn.py``). The references, all on standardised inputs:

- ``Logistic_*``: one-vs-rest ``LogisticRegression()`` (L2, C = 1);
- ``MaxoutMLP_*_1_hidden``: ``MLPClassifier(hidden_layer_sizes=(512,))`` (ReLU units: scikit-learn
  has no maxout);
- ``MoE_Logistic*``: scikit-learn has no mixture of experts; the reference is the same
  model fitted the textbook way, by expectation-maximisation (Jordan & Jacobs 1994) with
  ``LogisticRegression`` as the M-step: per genre, one expert per modality fitted with the
  rows weighted by their responsibilities, and a logistic gate on ``[x_v; x_t]`` (one per
  genre, or one shared when tied) fitted to the responsibilities.

>>> predict, what = sklearn_reference("Logistic_w2v", train)   # doctest: +SKIP
>>> scores = predict(test.inputs)                                  # doctest: +SKIP
"""
from __future__ import annotations

import warnings
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Mapping

import numpy as np


Predict = Callable[[Mapping[str, Any]], np.ndarray]
#: EM iterations of the mixture-of-experts reference (its test macro-F1 settles within a few).
EM_ITERATIONS = 5


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence scikit-learn's convergence warnings (the iteration caps are generous)."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def _fit(estimator: Any, x: np.ndarray, labels: np.ndarray) -> Predict:
    """Fit ``StandardScaler -> estimator`` on the labels seen in training; predict (n, labels)."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    seen = np.flatnonzero((labels.sum(axis=0) > 0) & (labels.sum(axis=0) < len(labels)))
    pipeline = make_pipeline(StandardScaler(), estimator)
    with _quiet():
        pipeline.fit(x, labels[:, seen])
    constant = labels.mean(axis=0)  # a label always or never present: its training frequency

    def predict(rows: np.ndarray) -> np.ndarray:
        scores = np.tile(constant, (len(rows), 1)).astype(np.float64)
        scores[:, seen] = np.asarray(pipeline.predict_proba(rows)).reshape(len(rows), -1)
        return scores

    return predict


def logistic_regression(x: np.ndarray, labels: np.ndarray, seed: int = 0) -> Predict:
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    return _fit(OneVsRestClassifier(LogisticRegression(max_iter=1000, random_state=seed)), x, labels)


def one_hidden_layer(x: np.ndarray, labels: np.ndarray, seed: int = 0) -> Predict:
    from sklearn.neural_network import MLPClassifier

    return _fit(MLPClassifier(hidden_layer_sizes=(512,), random_state=seed), x, labels)


def _binary(x: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """P(y = 1 | x) of a logistic regression (a constant where ``y`` has one value)."""
    from sklearn.linear_model import LogisticRegression

    if y.min() == y.max():
        return lambda rows: np.full(len(rows), float(y[0]))
    model = LogisticRegression(max_iter=1000).fit(x, y, sample_weight=weight)
    return lambda rows: model.predict_proba(rows)[:, 1]


def mixture_of_logistic_experts(xs: list[np.ndarray], labels: np.ndarray, tied: bool,
                                iterations: int = EM_ITERATIONS) -> Callable[[list[np.ndarray]], np.ndarray]:
    """EM fit of p(y_c | x) = sum_k g_kc(x) sigmoid(w_kc . x_k): expert k reads input k, the
    gate reads all inputs (one gate per genre c, or one for all when ``tied``). Inputs are
    standardised. Returns ``predict([x_1, ..., x_K]) -> (n, genres)`` probabilities."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scalers = [StandardScaler().fit(x) for x in xs]
    n, genres = labels.shape
    experts_count = len(xs)

    def standardised(rows: list[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray]:
        scaled = [scaler.transform(x) for scaler, x in zip(scalers, rows)]
        return scaled, np.concatenate(scaled, axis=1)

    scaled, joint = standardised(xs)
    responsibility = np.full((n, experts_count, genres), 1.0 / experts_count)
    for _ in range(iterations):
        # M-step: experts on rows weighted by how much they explain each (row, genre).
        experts = [[_binary(scaled[k], labels[:, c], responsibility[:, k, c] * n / responsibility[:, k, c].sum())
                    for c in range(genres)] for k in range(experts_count)]
        # The gate: a classifier of "which expert", each row once per expert, weighted.
        targets = np.repeat(np.arange(experts_count), n)
        gates = []
        for weights in ([responsibility.sum(axis=2)] if tied else [responsibility[:, :, c] for c in range(genres)]):
            flat = weights.T.reshape(-1)
            gates.append(LogisticRegression(max_iter=1000).fit(np.tile(joint, (experts_count, 1)), targets,
                                                               sample_weight=flat * len(flat) / flat.sum()))

        def mixture(scaled_rows: list[np.ndarray], joint_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            expert_probs = np.stack([np.stack([e(scaled_rows[k]) for e in experts[k]], axis=1)
                                     for k in range(experts_count)], axis=1)  # (n, experts, genres)
            gate = [g.predict_proba(joint_rows) for g in gates]
            gate_probs = np.stack(gate * genres if tied else gate, axis=2)  # (n, experts, genres)
            return expert_probs, gate_probs

        # E-step: the posterior of each expert given the row's true labels.
        expert_probs, gate_probs = mixture(scaled, joint)
        likelihood = np.where(labels[:, None, :] > 0, expert_probs, 1 - expert_probs) * gate_probs
        responsibility = likelihood / np.maximum(likelihood.sum(axis=1, keepdims=True), 1e-12)

    def predict(rows: list[np.ndarray]) -> np.ndarray:
        expert_probs, gate_probs = mixture(*standardised(rows))
        return (expert_probs * gate_probs).sum(axis=1)

    return predict


def sklearn_reference(name: str, train: Any, seed: int = 0) -> tuple[Predict, str]:
    """A scikit-learn fit standing for model ``name``, trained on ``train``; returns
    ``predict(inputs) -> probabilities`` and what it is."""
    from . import models

    spec = models.get(name)
    inputs = spec.inputs
    if name.startswith("Logistic_") and len(inputs) == 1:
        (key,) = inputs
        fitted = logistic_regression(np.asarray(train.inputs[key]), train.labels, seed)
        return (lambda rows: fitted(np.asarray(rows[key]))), f"LogisticRegression on {key}"
    if name.endswith("_1_hidden") and len(inputs) == 1:
        (key,) = inputs
        fitted = one_hidden_layer(np.asarray(train.inputs[key]), train.labels, seed)
        return (lambda rows: fitted(np.asarray(rows[key]))), f"MLPClassifier(512) on {key}"
    if name.startswith("MoE_Logistic"):
        tied = bool(spec.fixed.get("tied", False))
        with _quiet():
            fitted = mixture_of_logistic_experts([np.asarray(train.inputs[key]) for key in inputs], train.labels, tied)
        return ((lambda rows: fitted([np.asarray(rows[key]) for key in inputs])),
                f"EM mixture of LogisticRegression experts{' (tied gate)' if tied else ''}")
    raise ValueError(f"no scikit-learn reference for {name}")
