"""The training loop of the benchmark: plain PyTorch, read top to bottom.

The paper's procedure as it describes it: Adam, mini-batches of 128, binary cross-entropy on
the 23 sigmoid outputs, dropout on the input of linear layers (inside the models), an optional
max-norm on the incoming weights of every unit, and early stopping on the dev macro-F1 at
threshold 0.5 (the weights of the best epoch are kept). ``sample_params`` draws one trial of
the paper's random search. Three choices of ours, each measured against scikit-learn fits of
the same models (``benchmarks/baselines_vs_sklearn.py``): output biases start at the genre
frequencies (:func:`start_at_prior`), batch-norm statistics are re-estimated with dropout
off after each epoch (:func:`recalibrate_batch_norm`), and layers that read the features get
at most 0.2 dropout (``models.base.INPUT_DROPOUT_MAX``). On CPU a seed gives the same numbers
run after run; on a GPU the forward pass runs under bfloat16 autocast.

>>> network = ...  # any nn.Module mapping {input name: tensor} -> logits (n, 23)
>>> history = fit_network(network, train, dev, TrainConfig(epochs=20))   # doctest: +SKIP
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from .metrics import macro_f1

#: Changes with every change to training or models that alters their results, so that runs
#: saved by an earlier version are trained again rather than reused (2: outputs start at the
#: genre prior, batch-norm statistics re-estimated, input dropout at most 0.2).
TRAINING_REVISION = 2
#: The paper's default hyperparameters (Arevalo et al. 2017; their code's defaults).
DEFAULT_PARAMS: dict[str, Any] = {"hidden": 512, "dropout": 0.5, "lr": 0.01, "init_range": None, "max_norm": None}
#: Tokens kept per plot by the RNNs (plots longer than this are cut; keeps batches bounded).
MAX_TOKENS = 400
PREDICT_BATCH = 1024
#: Training rows (at most) whose forward pass re-estimates the batch-norm statistics each epoch.
RECALIBRATION_ROWS = 4096


@dataclass
class TrainConfig:
    """How one network is trained (the model's own hyperparameters live in the model)."""

    epochs: int = 200
    patience: int = 20
    batch_size: int = 128
    lr: float = 0.01
    init_range: float | None = None
    max_norm: float | None = None
    seed: int = 0
    device: str = "cpu"
    progress: str | None = None  # a label shows a tqdm bar on stderr


def sample_params(rng: np.random.Generator) -> dict[str, Any]:
    """One trial of the paper's random search.

    hidden in {64, 128, 256, 512}, dropout ~ U(0.3, 0.7), learning rate 10^U(-3,-1),
    initialisation range 10^U(-3,-1), max-norm ~ U(5, 20) with probability 0.5.
    """
    return {
        "hidden": int(rng.choice([64, 128, 256, 512])),
        "dropout": float(rng.uniform(0.3, 0.7)),
        "lr": float(10 ** rng.uniform(-3, -1)),
        "init_range": float(10 ** rng.uniform(-3, -1)),
        "max_norm": float(rng.uniform(5, 20)) if rng.uniform() < 0.5 else None,
    }


class Batcher:
    """Turns rows of a split's inputs into device tensors, one batch at a time.

    Dense features move to the device once; token sequences are padded per batch (cut to
    ``MAX_TOKENS``); images are read per batch (the full set does not fit in memory).
    """

    def __init__(self, inputs: Mapping[str, Any], device: str, vocabulary: int | None = None):
        import torch

        self.device = device
        self.vocabulary = vocabulary
        self.dense = {name: torch.as_tensor(np.asarray(value, dtype=np.float32), device=device)
                      for name, value in inputs.items() if name not in ("sequences", "images")}
        self.sequences = inputs.get("sequences")
        self.images = inputs.get("images")
        self.n_rows = len(next(iter(inputs.values())))

    def __call__(self, index: np.ndarray) -> dict[str, Any]:
        import torch

        batch: dict[str, Any] = {}
        index_tensor = torch.as_tensor(index, device=self.device)
        for name, tensor in self.dense.items():
            batch[name] = tensor[index_tensor]
        if self.sequences is not None:
            rows = [self.sequences[i][:MAX_TOKENS] for i in index]
            lengths = np.array([max(len(row), 1) for row in rows])
            padded = np.zeros((len(rows), lengths.max()), dtype=np.int64)
            for i, row in enumerate(rows):
                padded[i, : len(row)] = row
            if self.vocabulary is not None:
                padded[padded >= self.vocabulary] = 0  # ids unseen in training = unknown word
            batch["sequences"] = (torch.as_tensor(padded, device=self.device), torch.as_tensor(lengths))
        if self.images is not None:
            batch["images"] = torch.as_tensor(np.asarray(self.images[index], dtype=np.float32), device=self.device)
        return batch


def _batches(n_rows: int, size: int, order: np.ndarray | None = None) -> list[np.ndarray]:
    order = np.arange(n_rows) if order is None else order
    chunks = [order[i : i + size] for i in range(0, n_rows, size)]
    # Batch norm cannot train on a single row: fold a last batch of one into the previous one.
    if len(chunks) > 1 and len(chunks[-1]) == 1:
        chunks[-2] = np.concatenate([chunks[-2], chunks.pop()])
    return chunks


def initialize(network: Any, init_range: float | None) -> None:
    """Weights of linear and conv layers ~ U(-init_range, init_range), biases 0 (None: torch's)."""
    import torch

    if init_range is None:
        return
    for module in network.modules():
        if isinstance(module, (torch.nn.Linear, torch.nn.Conv2d)):
            torch.nn.init.uniform_(module.weight, -init_range, init_range)
            if module.bias is not None:
                torch.nn.init.zeros_(module.bias)


def prior_log_odds(labels: np.ndarray) -> np.ndarray:
    """log(p / (1 - p)) of each label's training frequency p (add-one smoothed: never infinite)."""
    labels = np.asarray(labels, dtype=np.float64)
    p = (labels.sum(axis=0) + 1.0) / (len(labels) + 2.0)
    return np.log(p / (1.0 - p))


def start_at_prior(network: Any, labels: np.ndarray) -> None:
    """Set the bias of every output layer marked ``starts_at_prior`` to the labels' log-odds.

    With zero biases an untrained network gives every genre a probability near 0.5, i.e. it
    predicts nearly every genre: on rare labels that scores a macro-F1 (about .16 on MM-IMDb)
    that the first epochs of learning fall below, so early stopping kept epoch 1 and a
    logistic regression ended far below scikit-learn's. Starting at the prior, the dev
    macro-F1 rises from the most-frequent-genres predictor as the network learns.
    """
    import torch

    prior = torch.as_tensor(prior_log_odds(labels), dtype=torch.float32)
    with torch.no_grad():
        for module in network.modules():
            if getattr(module, "starts_at_prior", False) and module.bias is not None and module.bias.shape == prior.shape:
                module.bias.copy_(prior)


def apply_max_norm(network: Any, max_norm: float | None) -> None:
    """Rescale each unit's incoming weight vector to an L2 norm of at most ``max_norm``."""
    import torch

    if max_norm is None:
        return
    with torch.no_grad():
        for module in network.modules():
            if isinstance(module, torch.nn.Linear):
                module.weight.copy_(torch.renorm(module.weight, p=2, dim=0, maxnorm=max_norm))


def _autocast(device: str):
    import torch

    if device == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


def run_batches(network: Any, batcher: Batcher, collect: Callable[[Any, Any], Any]) -> list:
    """Run ``network`` in eval mode over all rows; ``collect(network, logits)`` per batch."""
    import torch

    network.eval()
    out = []
    with torch.no_grad(), _autocast(batcher.device):
        for index in _batches(batcher.n_rows, PREDICT_BATCH):
            out.append(collect(network, network(batcher(index))))
    return out


def calibration_rows(n_rows: int, seed: int) -> np.ndarray:
    """The training rows whose forward pass re-estimates the batch-norm statistics each epoch:
    a fixed sample, sorted (images are read faster in order), drawn from its own generator so
    that the training order stays as it was."""
    return np.sort(np.random.default_rng([seed, 1]).permutation(n_rows)[:RECALIBRATION_ROWS])


def recalibrate_batch_norm(network: Any, batcher: Batcher, rows: np.ndarray) -> None:
    """Re-estimate every batch norm's running mean and variance on ``rows``, dropout off.

    Evaluation uses the running statistics, and during training they are wrong twice over.
    A batch norm that follows a dropout (through a linear layer) learns its running variance
    from activations that the dropout noise inflates, while evaluation runs without dropout
    ("variance shift", Li et al. 2019): on the greatest films MaxoutMLP's test macro-F1 went
    from .18 to .21-.25 once the statistics were re-estimated. And the running averages move
    10% a batch from their start (mean 0, variance 1): with few batches an epoch they are far
    from the data's for many epochs (TF-IDF columns have variances near 1e-4), so
    Logistic_3grams fitted its training rows in 3 epochs yet predicted the genre frequencies
    on dev until epoch 12. One pass over training rows with dropout off, batch norm averaging
    plainly, gives the statistics that evaluation meets.
    """
    import torch

    norms = [m for m in network.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    if not norms:
        return
    momenta = [norm.momentum for norm in norms]
    network.eval()
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a cumulative average over the batches of this pass
        norm.train()
    with torch.no_grad(), _autocast(batcher.device):
        for index in _batches(len(rows), PREDICT_BATCH, rows):
            network(batcher(index))
    for norm, momentum in zip(norms, momenta):
        norm.momentum = momentum
    network.eval()


def predict_scores(network: Any, batcher: Batcher) -> np.ndarray:
    """Sigmoid probabilities (n, labels) as float32 numpy."""
    import torch

    parts = run_batches(network, batcher, lambda _net, logits: torch.sigmoid(logits.float()).cpu().numpy())
    return np.concatenate(parts)


def start(network: Any, config: TrainConfig, labels: np.ndarray) -> np.random.Generator:
    """Seed torch, initialise ``network`` (output biases at the prior of the training
    ``labels``) and move it to the device, as a run begins; returns the generator of the
    batch order. The batched search (``search.py``) starts each trial here too, so that a
    trial starts where it would alone."""
    import torch

    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    initialize(network, config.init_range)
    start_at_prior(network, labels)
    network.to(config.device)
    return rng


def fit_network(network: Any, train: Any, dev: Any, config: TrainConfig, vocabulary: int | None = None) -> dict[str, Any]:
    """Train ``network`` on split ``train`` with early stopping on ``dev``; keep the best epoch.

    Returns the history: per epoch ``train_loss``, ``dev_macro_f1``, ``seconds``; and
    ``best_epoch``, ``best_dev_macro_f1``, ``samples_per_second``.
    """
    import torch
    import torch.nn.functional as F

    device = config.device
    rng = start(network, config, train.labels)
    optimizer = torch.optim.Adam(network.parameters(), lr=config.lr, foreach=device != "cpu")
    train_batcher = Batcher(train.inputs, device, vocabulary)
    dev_batcher = Batcher(dev.inputs, device, vocabulary)
    labels = torch.as_tensor(train.labels, dtype=torch.float32, device=device)
    history: dict[str, Any] = {"train_loss": [], "dev_macro_f1": [], "seconds": []}
    best_f1, best_state, best_epoch, since_best = -1.0, None, 0, 0
    progress = None
    if config.progress:
        from tqdm import tqdm

        progress = tqdm(total=config.epochs, desc=config.progress, unit="epoch", leave=False)
    trained_rows, train_seconds = 0, 0.0
    calibration = calibration_rows(len(train), config.seed)
    for epoch in range(1, config.epochs + 1):
        started = time.perf_counter()
        network.train()
        loss_sum = torch.zeros((), device=device)
        for index in _batches(len(train), config.batch_size, rng.permutation(len(train))):
            batch = train_batcher(index)
            with _autocast(device):
                logits = network(batch)
            loss = F.binary_cross_entropy_with_logits(logits.float(), labels[torch.as_tensor(index, device=device)])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            apply_max_norm(network, config.max_norm)
            loss_sum += loss.detach() * len(index)
        train_seconds += time.perf_counter() - started
        trained_rows += len(train)
        recalibrate_batch_norm(network, train_batcher, calibration)
        dev_f1 = macro_f1(dev.labels, predict_scores(network, dev_batcher))
        history["train_loss"].append(float(loss_sum) / len(train))
        history["dev_macro_f1"].append(dev_f1)
        history["seconds"].append(time.perf_counter() - started)
        if progress is not None:
            progress.update(1)
            progress.set_postfix(dev_macro_f1=f"{dev_f1:.3f}")
        if dev_f1 > best_f1:
            best_f1, best_epoch, since_best = dev_f1, epoch, 0
            best_state = copy.deepcopy(network.state_dict())
        else:
            since_best += 1
            if since_best >= config.patience:
                break
    if progress is not None:
        progress.close()
    if best_state is not None:
        network.load_state_dict(best_state)
    history.update(best_epoch=best_epoch, best_dev_macro_f1=best_f1,
                   samples_per_second=trained_rows / train_seconds if train_seconds else math.nan)
    return history
