"""The synthetic experiment of the paper's section 5.1: does the gate find the informative modality?

Each sample has a class C ~ Bernoulli(p_C) and a hidden switch M ~ Bernoulli(p_M)::

    x_v = M * y_v + (1 - M) * noise_v        y_v ~ N(mu_v[C], s^2 I)   noise_v ~ N(nu_v, s^2 I)
    x_t = M * noise_t + (1 - M) * y_t        y_t ~ N(mu_t[C], s^2 I)   noise_t ~ N(nu_t, s^2 I)

so only one modality tells the class, and M says which. The means are drawn per seed. A
single GMU unit (h = z tanh(w_v.x_v + b_v) + (1 - z) tanh(w_t.x_t + b_t),
z = sigmoid(w_z.[x_v; x_t] + b_z)) followed by a sigmoid output is compared with logistic
regression on [x_v; x_t]; the paper found the GMU better on 370 of 1000 seeds, tied on the
rest, and corr(z, M) = 1.

All seeds train at once: each parameter carries a leading seed axis and the losses are
summed, so every seed's gradients, and Adam's per-element updates, are its own.

>>> result = run_synthetic(seeds=20)                    # doctest: +SKIP
>>> result["gmu_wins"], result["ties"], result["gmu_losses"]  # doctest: +SKIP
"""
from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from typing import Any, Callable

import numpy as np


@dataclass
class SyntheticConfig:
    samples_per_class: int = 200   # the paper's size, for training and again for testing
    dims: int = 2                  # features per modality
    p_c: float = 0.5
    p_m: float = 0.5
    mean_scale: float = 2.0        # class and noise means ~ N(0, mean_scale^2 I)
    noise_std: float = 0.5         # spread of the informed sources y_v, y_t
    uninformed_std: float = 0.5    # spread of the uninformed sources noise_v, noise_t
    epochs: int = 600              # full-batch Adam steps
    lr: float = 0.05
    tie_tolerance: float = 0.01    # accuracies this close count as a tie


def _means(rng: np.random.Generator, config: SyntheticConfig) -> dict[str, np.ndarray]:
    scale, d = config.mean_scale, config.dims
    return {"mu_v": rng.normal(0, scale, (2, d)), "mu_t": rng.normal(0, scale, (2, d)),
            "nu_v": rng.normal(0, scale, d), "nu_t": rng.normal(0, scale, d)}


def _draw(rng: np.random.Generator, means: dict[str, np.ndarray], config: SyntheticConfig, n: int) -> dict[str, np.ndarray]:
    s, d = config.noise_std, config.dims
    c = (rng.uniform(size=n) < config.p_c).astype(np.int64)
    m = (rng.uniform(size=n) < config.p_m).astype(np.int64)
    y_v = means["mu_v"][c] + rng.normal(0, s, (n, d))
    y_t = means["mu_t"][c] + rng.normal(0, s, (n, d))
    noise_v = means["nu_v"] + rng.normal(0, config.uninformed_std, (n, d))
    noise_t = means["nu_t"] + rng.normal(0, config.uninformed_std, (n, d))
    x_v = m[:, None] * y_v + (1 - m[:, None]) * noise_v
    x_t = m[:, None] * noise_t + (1 - m[:, None]) * y_t
    return {"x_v": x_v.astype(np.float32), "x_t": x_t.astype(np.float32), "c": c, "m": m}


def make_task(seed: int, config: SyntheticConfig) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Train and test sets of one seed, each ``2 * samples_per_class`` rows."""
    rng = np.random.default_rng(seed)
    means = _means(rng, config)
    n = 2 * config.samples_per_class
    return _draw(rng, means, config, n), _draw(rng, means, config, n)


def _stack(tasks: list[dict[str, np.ndarray]], key: str) -> np.ndarray:
    return np.stack([task[key] for task in tasks])


def _gmu_forward(params: dict[str, Any], x_v: Any, x_t: Any) -> tuple[Any, Any]:
    """Batched single GMU unit; x_*: (seeds, n, dims). Returns output logits and z, (seeds, n)."""
    import torch

    h_v = torch.tanh(torch.einsum("snd,sd->sn", x_v, params["w_v"]) + params["b_v"])
    h_t = torch.tanh(torch.einsum("snd,sd->sn", x_t, params["w_t"]) + params["b_t"])
    z = torch.sigmoid(torch.einsum("snd,sd->sn", torch.cat([x_v, x_t], dim=2), params["w_z"]) + params["b_z"])
    h = z * h_v + (1 - z) * h_t
    return params["w_o"] * h + params["b_o"], z


def _logistic_forward(params: dict[str, Any], x_v: Any, x_t: Any) -> Any:
    import torch

    return torch.einsum("snd,sd->sn", torch.cat([x_v, x_t], dim=2), params["w"]) + params["b"]


def _train(params: dict[str, Any], forward: Any, x_v: Any, x_t: Any, c: Any, config: SyntheticConfig,
           on_step: Callable[[], Any] = lambda: None) -> None:
    import torch
    import torch.nn.functional as F

    optimizer = torch.optim.Adam(params.values(), lr=config.lr)
    for _ in range(config.epochs):
        on_step()
        logits = forward(params, x_v, x_t)
        logits = logits[0] if isinstance(logits, tuple) else logits
        # Sum over seeds of each seed's mean loss: seeds do not interact.
        loss = F.binary_cross_entropy_with_logits(logits, c, reduction="none").mean(dim=1).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def _correlation(z: np.ndarray, m: np.ndarray) -> float:
    if z.std() == 0 or m.std() == 0:
        return 0.0
    return float(np.corrcoef(z, m)[0, 1])


def _initial_weights(seed: int, shapes: dict[str, dict[str, int]]) -> dict[str, dict[str, Any]]:
    """N(0, 0.1) initial weights of one seed, drawn from a generator seeded with it alone."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    return {model: {name: 0.1 * torch.randn(size, generator=generator) for name, size in sizes.items()}
            for model, sizes in shapes.items()}


def run_synthetic(seeds: int = 1000, first_seed: int = 0, config: SyntheticConfig | None = None,
                  device: str = "cpu", progress: bool = False) -> dict[str, Any]:
    """Train a GMU and a logistic regression on ``seeds`` synthetic tasks; compare them.

    ``progress`` shows a bar (on stderr) over the training steps, each one of every seed at once.
    Returns counts (``gmu_wins``, ``ties``, ``gmu_losses``), per-seed accuracies and
    corr(z, M) on the test rows, and ``example`` (the first seed's test rows and gates).
    """
    import torch
    from tqdm import tqdm

    config = config or SyntheticConfig()
    tasks = [make_task(first_seed + k, config) for k in range(seeds)]
    train = {key: torch.as_tensor(_stack([t for t, _ in tasks], key), device=device) for key in ("x_v", "x_t", "c", "m")}
    test = {key: torch.as_tensor(_stack([t for _, t in tasks], key), device=device) for key in ("x_v", "x_t", "c", "m")}
    d = config.dims
    shapes = {"gmu": {"w_v": d, "w_t": d, "w_z": 2 * d, "b_v": 1, "b_t": 1, "b_z": 1, "w_o": 1, "b_o": 1},
              "logistic": {"w": 2 * d, "b": 1}}
    # Each seed's initial weights come from a generator of its own (in a fixed order), as its
    # task does: a seed's result does not depend on how many seeds ran beside it.
    initial = [_initial_weights(first_seed + k, shapes) for k in range(seeds)]

    def parameter(model: str, name: str) -> Any:
        return torch.stack([weights[model][name] for weights in initial]).to(device).requires_grad_()

    gmu = {name: parameter("gmu", name) for name in shapes["gmu"]}
    logistic = {name: parameter("logistic", name) for name in shapes["logistic"]}
    labels = train["c"].float()
    with tqdm(total=2 * config.epochs, desc=f"GMU, {seeds} seeds", unit="step", disable=not progress,
              file=sys.stderr) as bar:
        _train(gmu, _gmu_forward, train["x_v"], train["x_t"], labels, config, on_step=lambda: bar.update())
        bar.set_description(f"logistic regression, {seeds} seeds")
        _train(logistic, _logistic_forward, train["x_v"], train["x_t"], labels, config, on_step=lambda: bar.update())
    with torch.no_grad():
        gmu_logits, z = _gmu_forward(gmu, test["x_v"], test["x_t"])
        logistic_logits = _logistic_forward(logistic, test["x_v"], test["x_t"])
    truth = test["c"].cpu().numpy()
    gmu_accuracy = ((gmu_logits.cpu().numpy() > 0) == truth).mean(axis=1)
    logistic_accuracy = ((logistic_logits.cpu().numpy() > 0) == truth).mean(axis=1)
    z_numpy, m_numpy = z.cpu().numpy(), test["m"].cpu().numpy()
    correlation = [_correlation(z_numpy[k], m_numpy[k]) for k in range(seeds)]
    difference = gmu_accuracy - logistic_accuracy
    example = {key: test[key][0].cpu().numpy().tolist() for key in ("x_v", "x_t", "c", "m")}
    example["z"] = z_numpy[0].tolist()
    # The first seed's trained GMU and its task's means: Figure 7 draws z over the plane with them.
    example["gmu"] = {name: value[0].detach().cpu().numpy().tolist() for name, value in gmu.items()}
    example["means"] = {name: value.tolist() for name, value in _means(np.random.default_rng(first_seed), config).items()}
    return {
        "seeds": seeds, "first_seed": first_seed, "samples_per_class": config.samples_per_class,
        "config": asdict(config),
        "gmu_wins": int((difference > config.tie_tolerance).sum()),
        "ties": int((np.abs(difference) <= config.tie_tolerance).sum()),
        "gmu_losses": int((difference < -config.tie_tolerance).sum()),
        "gmu_accuracy": gmu_accuracy.tolist(), "logistic_accuracy": logistic_accuracy.tolist(),
        "gate_latent_correlation": correlation,
        "example": example,
    }


def gmu_surface(params: dict[str, Any], x_v: np.ndarray, x_t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The trained single GMU (one seed's ``params``, as ``example["gmu"]``) evaluated with
    numpy at points ``x_v``, ``x_t`` (..., dims): the gate z and the probability of class 1."""
    w = {name: np.asarray(value, dtype=np.float64) for name, value in params.items()}
    x_v, x_t = np.asarray(x_v, dtype=np.float64), np.asarray(x_t, dtype=np.float64)
    h_v = np.tanh(x_v @ w["w_v"] + w["b_v"][0])
    h_t = np.tanh(x_t @ w["w_t"] + w["b_t"][0])
    z = 1 / (1 + np.exp(-(np.concatenate([x_v, x_t], axis=-1) @ w["w_z"] + w["b_z"][0])))
    h = z * h_v + (1 - z) * h_t
    return z, 1 / (1 + np.exp(-(w["w_o"][0] * h + w["b_o"][0])))


def run_figure7(first_seed: int = 0, config: SyntheticConfig | None = None, device: str = "cpu") -> dict[str, Any]:
    """The paper's Figure 7 task: one seed with x_v, x_t in R (``dims=1``), the rest of
    ``config`` as given; the result of :func:`run_synthetic` for that seed."""
    from dataclasses import replace

    return run_synthetic(seeds=1, first_seed=first_seed, config=replace(config or SyntheticConfig(), dims=1),
                         device=device)
