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

There is one training loop, :func:`train_lanes`, with one Adam (:class:`Adam`: torch's fused
kernel), one max-norm (:func:`limit_unit_norms`), one batch-norm re-estimation
(:func:`recalibrate_batch_norm`) and one early stopping (:class:`EarlyStopping`). It trains
"lanes": a lone network is one lane (:class:`LoneNetwork`, what :func:`fit_network` trains),
the batched random search stacks its trials as one lane each (``search._Stack``).

>>> network = ...  # any nn.Module mapping {input name: tensor} -> logits (n, 23)
>>> history = fit_network(network, train, dev, TrainConfig(epochs=20))   # doctest: +SKIP
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .metrics import macro_f1
from ..dataset import hdf5

#: Changes with every change to training or models that alters their results, so that runs
#: saved by an earlier version are trained again rather than reused (2: outputs start at the
#: genre prior, batch-norm statistics re-estimated, input dropout at most 0.2; 3: the lone fit
#: steps through torch's fused Adam kernel, as the batched search does: float rounding apart;
#: 4: dropout masks on the CPU from numpy's generator, ``dropout.py``).
TRAINING_REVISION = 4
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
                      for name, value in inputs.items() if name not in (hdf5.SEQUENCES, hdf5.IMAGES)}
        self.sequences = inputs.get(hdf5.SEQUENCES)
        self.images = inputs.get(hdf5.IMAGES)
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
            batch[hdf5.SEQUENCES] = (torch.as_tensor(padded, device=self.device), torch.as_tensor(lengths))
        if self.images is not None:
            batch[hdf5.IMAGES] = torch.as_tensor(np.asarray(self.images[index], dtype=np.float32), device=self.device)
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



# --- The one training core: Adam, max-norm, batch-norm re-estimation, early stopping, the loop.
# A lone fit drives it with one lane (:class:`LoneNetwork`); the batched search (``search.py``)
# with one lane per trial of a stack. Both therefore take the same steps in the same order
# through the same kernels, which is what keeps a batched trial equal to the same trial alone.

#: torch.optim.Adam's defaults (the paper's Adam: no weight decay, no amsgrad).
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8


@lru_cache(maxsize=None)
def fused_adam_available(device_type: str) -> bool:
    """Whether torch's fused Adam kernel (``torch.optim.Adam(fused=True)``'s) runs on ``device_type``.

    It makes one pass over parameters, gradients and moments where the per-tensor update
    (``foreach=False``, what the lone fit used) makes eight; ``benchmarks/train_speed.py``
    times both on the GMU at the paper's sizes.
    """
    import torch

    if not hasattr(torch, "_fused_adam_"):
        return False
    try:
        one = [torch.zeros(2, device=device_type)]
        torch._fused_adam_(one, [torch.ones(2, device=device_type)], [torch.zeros(2, device=device_type)],
                           [torch.zeros(2, device=device_type)], [], [torch.ones((), device=device_type)],
                           lr=0.1, beta1=ADAM_BETAS[0], beta2=ADAM_BETAS[1], weight_decay=0.0, eps=ADAM_EPS,
                           amsgrad=False, maximize=False)
    except (RuntimeError, NotImplementedError):  # no kernel for this device (older torch on the CPU)
        return False
    return True


class Adam:
    """``torch.optim.Adam`` (its defaults) over lanes of parameters, one learning rate per lane.

    ``lanes[t]`` holds lane t's parameter tensors, updated in place: a lone network's
    parameters (one lane), or trial t's slices of the stacked parameters of a batched search.
    Each lane is one call of torch's fused Adam kernel where it exists (the kernel
    ``torch.optim.Adam(fused=True)`` calls), else torch's per-tensor formula: the same update
    for a trial whether it trains alone or in a stack.
    """

    def __init__(self, lanes: Sequence[Sequence[Any]], lrs: Sequence[float]):
        import torch

        self.lanes, self.lrs = [list(lane) for lane in lanes], [float(lr) for lr in lrs]
        self.exp_avgs = [[torch.zeros_like(p) for p in lane] for lane in self.lanes]
        self.exp_avg_sqs = [[torch.zeros_like(p) for p in lane] for lane in self.lanes]
        self.steps = 0
        device = self.lanes[0][0].device
        self.fused = fused_adam_available(device.type)
        self._step = torch.zeros((), device=device)  # the fused kernel reads the step count from a tensor

    def step(self, grads: Sequence[Sequence[Any]]) -> None:
        """One update; ``grads[t]`` matches ``lanes[t]`` (None: the parameter got no gradient and,
        as in torch.optim, is left alone)."""
        import torch

        self.steps += 1
        with torch.no_grad():
            self._step.fill_(self.steps)
            for lane, lr in enumerate(self.lrs):
                chosen = [i for i, grad in enumerate(grads[lane]) if grad is not None]
                if len(chosen) == len(grads[lane]):
                    params, lane_grads = self.lanes[lane], list(grads[lane])
                    exp_avgs, exp_avg_sqs = self.exp_avgs[lane], self.exp_avg_sqs[lane]
                else:
                    params, lane_grads = [self.lanes[lane][i] for i in chosen], [grads[lane][i] for i in chosen]
                    exp_avgs = [self.exp_avgs[lane][i] for i in chosen]
                    exp_avg_sqs = [self.exp_avg_sqs[lane][i] for i in chosen]
                if not params:
                    continue
                if self.fused:
                    torch._fused_adam_(params, lane_grads, exp_avgs, exp_avg_sqs, [], [self._step] * len(params),
                                       lr=lr, beta1=ADAM_BETAS[0], beta2=ADAM_BETAS[1], weight_decay=0.0,
                                       eps=ADAM_EPS, amsgrad=False, maximize=False)
                else:
                    self._per_tensor(params, lane_grads, exp_avgs, exp_avg_sqs, lr)

    def _per_tensor(self, params: list, grads: list, exp_avgs: list, exp_avg_sqs: list, lr: float) -> None:
        """torch.optim.Adam's single-tensor update (``_single_tensor_adam``), where no fused kernel runs."""
        beta1, beta2 = ADAM_BETAS
        bias_correction1 = 1 - beta1 ** self.steps
        bias_correction2_sqrt = math.sqrt(1 - beta2 ** self.steps)
        for param, grad, exp_avg, exp_avg_sq in zip(params, grads, exp_avgs, exp_avg_sqs):
            exp_avg.lerp_(grad, 1 - beta1)
            exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(ADAM_EPS)
            param.addcdiv_(exp_avg, denom, value=-lr / bias_correction1)

    def keep(self, kept: Sequence[int], lanes: Sequence[Sequence[Any]]) -> None:
        """Only the lanes ``kept`` (old positions) go on, now as ``lanes`` (their new tensors)."""
        self.lanes = [list(lane) for lane in lanes]
        self.lrs = [self.lrs[t] for t in kept]
        self.exp_avgs = [self.exp_avgs[t] for t in kept]
        self.exp_avg_sqs = [self.exp_avg_sqs[t] for t in kept]


def limit_unit_norms(weight: Any, max_norm: float, inputs_dim: int) -> None:
    """Max-norm: rescale, in place, each unit's incoming weights (the vectors along
    ``inputs_dim``) to an L2 norm of at most ``max_norm`` (``torch.renorm``'s rule)."""
    import torch

    with torch.no_grad():
        norm = weight.square().sum(dim=inputs_dim, keepdim=True).sqrt_()
        weight.mul_(torch.where(norm > max_norm, max_norm / (norm + 1e-7), torch.ones_like(norm)))


def tracked_batch_norms(root: Any) -> dict[str, Any]:
    """The batch norms of ``root`` that keep running statistics, by qualified name."""
    import torch

    return {name: module for name, module in root.named_modules()
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm) and module.track_running_stats}


def recalibrate_batch_norm(root: Any, norms: Mapping[str, Any], buffers: Mapping[str, Any],
                           forward: Callable[[dict], Any], batcher: Batcher, rows: np.ndarray) -> None:
    """Re-estimate the running mean and variance of every batch norm in ``norms`` (modules of
    ``root``; their statistics are ``buffers[f"{name}.running_mean"]``, ...) on ``rows``,
    dropout off: ``forward`` runs each batch of rows (a lone network, or a stack of trials).

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

    if not norms:
        return
    momenta = {name: norm.momentum for name, norm in norms.items()}
    root.eval()
    with torch.no_grad():
        for name, norm in norms.items():  # reset_running_stats, wherever the statistics live
            buffers[f"{name}.running_mean"].zero_()
            buffers[f"{name}.running_var"].fill_(1)
            buffers[f"{name}.num_batches_tracked"].zero_()
            norm.momentum = None  # a cumulative average over the batches of this pass
            norm.train()
        with _autocast(batcher.device):
            for index in _batches(len(rows), PREDICT_BATCH, rows):
                forward(batcher(index))
    for name, norm in norms.items():
        norm.momentum = momenta[name]
    root.eval()


class EarlyStopping:
    """Early stopping on the dev macro-F1: the best epoch so far, its state, and patience."""

    def __init__(self, patience: int):
        self.patience, self.best_f1, self.best_epoch, self.since_best, self.state = patience, -1.0, 0, 0, None

    def update(self, dev_f1: float, epoch: int, snapshot: Callable[[], Any]) -> bool:
        """Record epoch ``epoch``'s score (``snapshot()`` of a new best); True when patience ran out."""
        if dev_f1 > self.best_f1:
            self.best_f1, self.best_epoch, self.since_best, self.state = dev_f1, epoch, 0, snapshot()
            return False
        self.since_best += 1
        return self.since_best >= self.patience


class LoneNetwork:
    """One network as the training loop's single lane (what :func:`fit_network` trains).

    The batched search's stack (``search._Stack``) has the same methods, one lane per trial.
    Everything that does not change from step to step (the parameter list, the weights that
    max-norm bounds, the batch norms) is found once here, not per step. On the CPU its
    ``nn.Dropout`` modules draw their masks from the run's numpy stream while it trains
    (:mod:`.dropout`: the stream a batched trial draws from too), and are put back at the end.
    """

    def __init__(self, network: Any, config: TrainConfig):
        import torch

        from .dropout import MaskStream, mask_generator, use_stream

        self.network, self.device, self.max_norm = network, config.device, config.max_norm
        self._dropouts = use_stream(network, MaskStream(mask_generator(config.seed))) if config.device == "cpu" else []
        self.params = [p for p in network.parameters() if p.requires_grad]
        self.bounded = [m.weight for m in network.modules() if isinstance(m, torch.nn.Linear)]
        self.norms = tracked_batch_norms(network)

    def lane_parameters(self) -> list[list[Any]]:
        return [self.params]

    def lane_grads(self) -> list[list[Any]]:
        return [[p.grad for p in self.params]]

    def train(self) -> None:
        self.network.train()

    def losses(self, batch: dict[str, Any], target: Any) -> Any:
        import torch.nn.functional as F

        with _autocast(self.device):
            logits = self.network(batch)
        return F.binary_cross_entropy_with_logits(logits.float(), target).reshape(1)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def limit_norms(self) -> None:
        if self.max_norm is not None:
            for weight in self.bounded:  # (out, in): a unit's incoming weights are a row
                limit_unit_norms(weight, self.max_norm, inputs_dim=1)

    def recalibrate(self, batcher: Batcher, rows: np.ndarray) -> None:
        recalibrate_batch_norm(self.network, self.norms, dict(self.network.named_buffers()), self.network,
                               batcher, rows)

    def scores(self, batcher: Batcher) -> np.ndarray:
        return predict_scores(self.network, batcher)[None]

    def snapshot(self, lane: int) -> Any:
        return copy.deepcopy(self.network.state_dict())

    def keep(self, kept: Sequence[int]) -> None:
        raise AssertionError("a lone network's only lane stops the loop")

    def restore(self, member: int, state: Any) -> None:
        self.network.load_state_dict(state)

    def close(self) -> None:
        """Put the network's own ``nn.Dropout`` modules back (after training)."""
        from .dropout import put_back

        put_back(self._dropouts)
        self._dropouts = []


def train_lanes(lanes: Any, configs: Sequence[TrainConfig], batch_order: np.random.Generator, train_batcher: Batcher,
                dev_batcher: Batcher, train_labels: np.ndarray, dev_labels: np.ndarray,
                label: str | None = None) -> list[dict[str, Any]]:
    """The training loop: ``lanes`` (a :class:`LoneNetwork`, or the batched search's stack) trained
    together, ``configs[t]`` for lane t (learning rate, patience; the schedule is ``configs[0]``'s).

    Every epoch: mini-batches in ``batch_order``'s shuffle, binary cross-entropy, one
    :class:`Adam` step, max-norm; then batch norms re-estimated, dev macro-F1 at 0.5 per lane,
    early stopping per lane (a lane that stops leaves, the others go on). Each lane ends at its
    best epoch. Returns one history per lane: ``train_loss``, ``dev_macro_f1``, ``seconds`` per
    epoch, ``best_epoch``, ``best_dev_macro_f1``, ``samples_per_second``.
    """
    import torch

    config = configs[0]
    device = config.device
    labels = torch.as_tensor(train_labels, dtype=torch.float32, device=device)
    n_train = len(train_labels)
    calibration = calibration_rows(n_train, config.seed)
    optimizer = Adam(lanes.lane_parameters(), [c.lr for c in configs])
    active = list(range(len(configs)))  # the lanes still training, by their first position
    histories: list[dict[str, Any]] = [{"train_loss": [], "dev_macro_f1": [], "seconds": []} for _ in configs]
    stopping = [EarlyStopping(c.patience) for c in configs]
    train_seconds = [0.0] * len(configs)
    progress = None
    if label:
        from tqdm import tqdm

        progress = tqdm(total=config.epochs, desc=label, unit="epoch", leave=False)
    for epoch in range(1, config.epochs + 1):
        started = time.perf_counter()
        lanes.train()
        loss_sum = torch.zeros(len(active), device=device)
        for index in _batches(n_train, config.batch_size, batch_order.permutation(n_train)):
            losses = lanes.losses(train_batcher(index), labels[torch.as_tensor(index, device=device)])
            lanes.zero_grad()
            losses.sum().backward()  # lanes do not interact: each gets its own loss's gradient
            optimizer.step(lanes.lane_grads())
            lanes.limit_norms()
            loss_sum += losses.detach() * len(index)
        elapsed = time.perf_counter() - started
        lanes.recalibrate(train_batcher, calibration)
        scores = lanes.scores(dev_batcher)
        losses_per_lane = loss_sum.tolist()
        stopped = []
        for lane, member in enumerate(active):
            dev_f1 = macro_f1(dev_labels, scores[lane])
            history = histories[member]
            history["train_loss"].append(losses_per_lane[lane] / n_train)
            history["dev_macro_f1"].append(dev_f1)
            history["seconds"].append(time.perf_counter() - started)
            train_seconds[member] += elapsed
            if stopping[member].update(dev_f1, epoch, lambda: lanes.snapshot(lane)):
                stopped.append(lane)
        if progress is not None:
            progress.update(1)
            if len(configs) == 1:
                progress.set_postfix(dev_macro_f1=f"{histories[0]['dev_macro_f1'][-1]:.3f}")
            else:
                progress.set_postfix(training=len(active) - len(stopped))
        if stopped:
            kept = [lane for lane in range(len(active)) if lane not in stopped]
            if not kept:
                break
            lanes.keep(kept)
            optimizer.keep(kept, lanes.lane_parameters())
            active = [active[lane] for lane in kept]
    if progress is not None:
        progress.close()
    for member, (history, record) in enumerate(zip(histories, stopping)):
        if record.state is not None:
            lanes.restore(member, record.state)
        trained_rows = len(history["train_loss"]) * n_train
        history.update(best_epoch=record.best_epoch, best_dev_macro_f1=record.best_f1,
                       samples_per_second=trained_rows / train_seconds[member] if train_seconds[member] else math.nan)
    return histories


def fit_network(network: Any, train: Any, dev: Any, config: TrainConfig, vocabulary: int | None = None) -> dict[str, Any]:
    """Train ``network`` on split ``train`` with early stopping on ``dev``; keep the best epoch.

    Returns the history: per epoch ``train_loss``, ``dev_macro_f1``, ``seconds``; and
    ``best_epoch``, ``best_dev_macro_f1``, ``samples_per_second``.
    """
    batch_order = start(network, config, train.labels)
    train_batcher = Batcher(train.inputs, config.device, vocabulary)
    dev_batcher = Batcher(dev.inputs, config.device, vocabulary)
    lanes = LoneNetwork(network, config)
    try:
        return train_lanes(lanes, [config], batch_order, train_batcher, dev_batcher, train.labels, dev.labels,
                           config.progress)[0]
    finally:
        lanes.close()  # the network's own dropout modules again, trained or interrupted
