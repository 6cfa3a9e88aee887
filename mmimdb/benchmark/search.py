"""The random search as one batched run: a model's trials trained together, stacked on a trial axis.

The paper's protocol trains 25 random trials of every model; one after another, each is a
small network. Here the trials of one hidden size form a group: each trial's network is built
and initialised exactly as a lone run would be (:meth:`NeuralClassifier.prepare`,
:func:`training.start`), the group's parameters are stacked along a leading trial axis
(``torch.func.stack_module_state``), and the model's own forward runs once per step for the
whole group under ``torch.func.vmap``. On the CPU each trial gives the numbers it gives alone
(``spec.create(**params, seed=seed).fit(train, dev)``), to float rounding:

* **batches**: a lone run shuffles with numpy's ``default_rng(seed)``; the trials of a search
  share the seed, so they share every batch, gathered once for the group;
* **dropout**: a lone run draws each mask with ``bernoulli_(1 - p)`` from torch's generator.
  Trials of one hidden size stand at the same point of the same stream (same seed, same
  number of initialisation draws). Where ``bernoulli_`` compares one uniform double per
  element with ``1 - p`` (checked at start on torch's own kernels: :func:`mask_mode`), one
  ``uniform_`` draw per dropout call serves the whole group and each trial compares it with
  its own ``1 - p``; where it does not (torch with MKL on Intel CPUs seeds a stream per call),
  each trial's mask is drawn by ``bernoulli_`` from a copy of the group's generator;
* **its own hyper-parameters**: dropout (a ``1 - p`` per trial), learning rate
  (:class:`StackedAdam`), init range (its lone initialisation), max-norm (a bound per trial);
* **its own early stopping** on dev macro-F1 at 0.5, patience and best-epoch weights as in
  :func:`training.fit_network`; a trial that stops leaves the stack, the others go on.

Three layers take a group form (same arithmetic, laid out for the stack): ``nn.Dropout``
(:class:`StreamDropout`), ``nn.BatchNorm1d`` (:class:`GroupBatchNorm`: the statistics of the
features every trial shares are computed once) and ``nn.Linear`` (:class:`GroupLinear`: weights
stored (in, out), so no gradient needs a transposed copy). A model that draws random numbers
anywhere else (a functional dropout) would give every trial the same mask; a probe forward
finds it and its trials train one after another (:class:`NotBatchable`), as do models that
read token sequences or images (the RNNs, the CNN) or are not a :class:`NeuralClassifier`
(AVG_probs). On a GPU a group's masks come from one CUDA generator: a lone run's distribution,
not its masks (a lone GPU run, under bfloat16 autocast, is not bit-reproducible either).

Float rounding differs between a stacked and a lone product, as it does between a lone run
on one thread and on two; Adam divides each gradient by its own size, so on parameters whose
gradient is near zero (tiny initial weights, large learning rates) such differences can grow
over epochs, in either comparison. Imports torch: import it where the benchmark runs.

>>> trials = [sample_params(rng) for _ in range(25)]                                   # doctest: +SKIP
>>> for estimator in fit_batched(models.get("GMU"), trials, train, dev, {"epochs": 200}, seed=0):  # doctest: +SKIP
...     print(estimator.hidden, estimator.history_["best_dev_macro_f1"])
"""
from __future__ import annotations

import copy
import math
import time
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from .metrics import macro_f1
from .training import PREDICT_BATCH, Batcher, TrainConfig, _autocast, _batches, calibration_rows, start

#: Inputs a batched group cannot share as dense tensors: these models train trial by trial.
UNBATCHED_INPUTS = frozenset({"sequences", "images"})
_ADAM_BETAS = (0.9, 0.999)  # torch.optim.Adam's defaults, which fit_network uses
_ADAM_EPS = 1e-8


def can_batch(spec: Any) -> bool:
    """Whether the trials of model ``spec`` can train as one batched run."""
    from .models.base import NeuralClassifier

    return (isinstance(spec.cls, type) and issubclass(spec.cls, NeuralClassifier) and bool(spec.inputs)
            and not set(spec.inputs) & UNBATCHED_INPUTS)


@lru_cache(maxsize=None)
def mask_mode(device: str = "cpu") -> str | None:
    """How a group draws its dropout masks on ``device``.

    ``"uniform"``: one uniform draw per dropout call, compared per trial with ``1 - p``
    (exact on the CPU when torch's ``bernoulli_`` does that: checked here on torch's own
    kernels; the choice on a GPU). ``"bernoulli"``: one ``bernoulli_`` per trial from a copy
    of the group's generator (exact; torch with MKL on Intel CPUs). ``None``: dropout here
    does not draw through ``bernoulli_`` as expected, so trials train one by one.
    """
    if device != "cpu":
        return "uniform"
    x = torch.linspace(-1, 1, 3 * 67).view(3, 67)
    torch_state = torch.get_rng_state()
    try:
        torch.manual_seed(1234)
        dropped = F.dropout(x, 0.37, training=True)
    finally:
        torch.set_rng_state(torch_state)
    first, second = torch.Generator().manual_seed(1234), torch.Generator().manual_seed(1234)
    mask = torch.empty(x.shape).bernoulli_(0.63, generator=first)
    if not torch.equal(dropped, x * mask.div_(0.63)):
        return None
    uniform = torch.empty(x.shape, dtype=torch.float64).uniform_(generator=second)
    if torch.equal(mask > 0, uniform < 0.63) and torch.equal(first.get_state(), second.get_state()):
        return "uniform"
    return "bernoulli"


class MaskStream:
    """The dropout masks of one group: a generator at the point a lone trial's would be."""

    def __init__(self, generator: Any, mode: str):
        self.generator, self.mode = generator, mode
        self.buffers: dict[str, Any] = {}   # the group's stacked buffers (the per-trial 1 - p)
        self.lane: Any = None               # inside vmap: the trial's position in the stack

    def noise(self, module: "StreamDropout", x: Any) -> Any:
        """What dropout multiplies ``x`` by: mask / (1 - p), per trial (``x``: one trial's view)."""
        if self.mode == "uniform":
            # Doubles as torch's CPU bernoulli_ draws them; on a GPU (no exactness to keep) floats.
            dtype = torch.float64 if x.device.type == "cpu" else torch.float32
            uniform = torch.empty(x.shape, dtype=dtype, device=x.device).uniform_(generator=self.generator)
            # Compare, then scale in x's dtype: (mixed bool-float kernels are many times slower).
            scale = torch.ones((), dtype=x.dtype, device=x.device) / module.keep.to(x.dtype)
            return (uniform < module.keep).to(x.dtype).mul_(scale)
        # The trials still training, in lane order; outside vmap (one network) its own 1 - p.
        keeps = self.buffers[module.keep_name].tolist() if self.lane is not None else [float(module.keep)]
        noise = torch.empty((len(keeps), *x.shape), dtype=x.dtype, device=x.device)
        state = self.generator.get_state()
        for out, keep in zip(noise, keeps):
            self.generator.set_state(state)  # every trial draws from the same point
            out.bernoulli_(keep, generator=self.generator).div_(keep)
        return noise[self.lane] if self.lane is not None else noise[0]


class StreamDropout(nn.Module):
    """``nn.Dropout(p)`` whose masks come from the group's :class:`MaskStream`."""

    def __init__(self, p: float, stream: MaskStream, keep_name: str):
        super().__init__()
        self.p, self.stream, self.keep_name = p, stream, keep_name
        self.register_buffer("keep", torch.tensor(1.0 - p, dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # As torch's dropout: p = 0 draws nothing; p = 1 zeroes without drawing.
        if not self.training or self.p == 0:
            return x
        if self.p == 1:
            return x * 0
        return x * self.stream.noise(self, x)


class GroupBatchNorm(nn.Module):
    """``nn.BatchNorm1d`` (training statistics, running averages) in plain tensor operations.

    Under vmap, torch's kernel would normalise the features, which every trial of a group
    shares, once per trial, and folds a per-trial hidden layer into a strided tensor that it
    reads slowly. Written out, the statistics of a shared input are computed once and only
    the per-trial scale and shift are batched.
    """

    def __init__(self, norm: nn.BatchNorm1d):
        super().__init__()
        self.eps, self.momentum = norm.eps, norm.momentum
        self.weight, self.bias = norm.weight, norm.bias
        self.register_buffer("running_mean", norm.running_mean)
        self.register_buffer("running_var", norm.running_var)
        self.register_buffer("num_batches_tracked", norm.num_batches_tracked)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dims = [0] + list(range(2, x.dim()))
        shape = [1, -1] + [1] * (x.dim() - 2)
        x = x.float()  # statistics in float32 under autocast too, as torch's kernel keeps them
        if self.training:
            var, mean = torch.var_mean(x, dim=dims, correction=0)
            with torch.no_grad():
                n = x.numel() // x.shape[1]
                self.num_batches_tracked.add_(1)
                # momentum None: a cumulative average, as torch's (the recalibration pass uses it)
                factor = 1.0 / self.num_batches_tracked if self.momentum is None else self.momentum
                self.running_mean.mul_(1 - factor).add_(mean.detach() * factor)
                self.running_var.mul_(1 - factor).add_(var.detach() * (factor * n / max(n - 1, 1)))
        else:
            mean, var = self.running_mean, self.running_var
        normalized = (x - mean.view(shape)) * torch.rsqrt(var + self.eps).view(shape)
        return torch.addcmul(self.bias.view(shape), normalized, self.weight.view(shape))


class GroupLinear(nn.Module):
    """``nn.Linear`` with its weight stored transposed, ``weight_t`` (in, out).

    Stacked, the group's matrix products then read and write every weight and weight
    gradient in place: torch's (out, in) layout costs a transposed copy of each weight
    gradient per step, as large as the weights.
    """

    def __init__(self, linear: nn.Linear):
        super().__init__()
        self.weight_t = nn.Parameter(linear.weight.detach().t().contiguous())
        self.bias = linear.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.bias is None:
            return x @ self.weight_t
        return torch.addmm(self.bias, x, self.weight_t) if x.dim() == 2 else x @ self.weight_t + self.bias


def _group_norm(module: Any) -> bool:
    """Whether ``module`` is a batch norm that :class:`GroupBatchNorm` stands in for."""
    return (type(module) is nn.BatchNorm1d and module.affine and module.track_running_stats
            and module.momentum is not None)


def _for_group(network: Any, stream: MaskStream) -> Any:
    """``network`` ready to stack (in place): every ``nn.Dropout`` draws from ``stream``
    (:class:`StreamDropout`), every plain ``nn.BatchNorm1d`` and ``nn.Linear`` becomes its
    group form (:class:`GroupBatchNorm`, :class:`GroupLinear`)."""
    for name, module in list(network.named_modules()):
        for child_name, child in list(module.named_children()):
            qualified = f"{name}.{child_name}" if name else child_name
            if type(child) is nn.Dropout:
                setattr(module, child_name, StreamDropout(child.p, stream, f"{qualified}.keep"))
            elif _group_norm(child):
                setattr(module, child_name, GroupBatchNorm(child))
            elif type(child) is nn.Linear:
                setattr(module, child_name, GroupLinear(child))
    return network


def _lone_state(state: dict[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    """A trial's state in its lone network's layout (``keys``): weights back to (out, in)."""
    return {key: state[key] if key in state else state[f"{key}_t"].t().contiguous() for key in keys}


class StackedAdam:
    """``torch.optim.Adam`` (its defaults, as ``fit_network`` uses it) with a learning rate per trial.

    Each trial's slices go through torch's fused Adam kernel, one call per trial (one pass
    over the parameters instead of the eight of the per-tensor update; they agree to float
    rounding); the per-tensor formula is the fallback where the kernel is missing.
    """

    def __init__(self, params: dict[str, Any], lrs: Any):
        self.lrs = lrs  # (trials,)
        self.state = {name: (torch.zeros_like(p), torch.zeros_like(p)) for name, p in params.items()}
        self.steps = 0
        self.fused = hasattr(torch, "_fused_adam_") and lrs.device.type in ("cpu", "cuda")

    @torch.no_grad()
    def step(self, params: dict[str, Any]) -> None:
        beta1, beta2 = _ADAM_BETAS
        self.steps += 1
        if self.fused:
            step = torch.tensor(float(self.steps), device=self.lrs.device)
            names = list(params)
            for t, lr in enumerate(self.lrs.tolist()):
                torch._fused_adam_([params[n][t] for n in names], [params[n].grad[t] for n in names],
                                   [self.state[n][0][t] for n in names], [self.state[n][1][t] for n in names], [],
                                   [step] * len(names), lr=lr, beta1=beta1, beta2=beta2, weight_decay=0.0,
                                   eps=_ADAM_EPS, amsgrad=False, maximize=False)
            return
        bias_correction1 = 1 - beta1 ** self.steps
        bias_correction2_sqrt = math.sqrt(1 - beta2 ** self.steps)
        for name, param in params.items():
            grad = param.grad
            exp_avg, exp_avg_sq = self.state[name]
            exp_avg.lerp_(grad, 1 - beta1)
            exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(_ADAM_EPS)
            step_size = (self.lrs / bias_correction1).neg().view(-1, *([1] * (param.dim() - 1)))
            param.addcdiv_(exp_avg * step_size, denom)

    def keep(self, lanes: Any) -> None:
        self.lrs = self.lrs[lanes]
        self.state = {name: (m[lanes], v[lanes]) for name, (m, v) in self.state.items()}


def _apply_max_norm(params: dict[str, Any], linear_weights: Sequence[str], bounds: Sequence[float]) -> None:
    """:func:`training.apply_max_norm` per trial: ``bounds[t]`` (inf = none) on every unit's
    incoming weights (a column of a stacked ``weight_t``)."""
    lanes = [(lane, bound) for lane, bound in enumerate(bounds) if math.isfinite(bound)]
    with torch.no_grad():
        for name in linear_weights:
            for lane, bound in lanes:  # one trial at a time: a slice's temporaries stay small
                weight = params[name][lane]
                norm = weight.square().sum(dim=0, keepdim=True).sqrt_()
                weight.mul_(torch.where(norm > bound, bound / (norm + 1e-7), torch.ones_like(norm)))


def _group_key(network: Any, config: TrainConfig, rng_state: Any) -> tuple:
    """Trials train together when their shapes, schedule and dropout stream agree."""
    shapes = tuple((name, tuple(t.shape)) for name, t in network.state_dict().items())
    special = tuple(sorted({m.p for m in network.modules() if isinstance(m, nn.Dropout) and m.p in (0.0, 1.0)}))
    return (shapes, config.epochs, config.patience, config.batch_size, config.device, special,
            rng_state.numpy().tobytes() if rng_state is not None else None)


class NotBatchable(Exception):
    """The trials of this model cannot train as one batched run that matches lone runs."""


def _draws_only_through_dropout(network: Any, batch: dict[str, Any]) -> bool:
    """Whether a training-mode forward of ``network`` draws random numbers only in its
    ``nn.Dropout`` modules (which a group replaces). A functional dropout, say, would draw
    from torch's generator, the same mask for every trial under vmap: not a lone run's."""
    device = next(iter(batch.values())).device
    probe = _for_group(copy.deepcopy(network), MaskStream(torch.Generator(device=device).manual_seed(0), "uniform"))
    probe.train()

    def states() -> list[Any]:
        return [torch.get_rng_state()] + ([torch.cuda.get_rng_state()] if torch.cuda.is_available() else [])

    before = states()
    with torch.no_grad():
        probe(batch)
    return all(torch.equal(a, b) for a, b in zip(before, states()))


@dataclass
class _Trial:
    """One trial, started as its lone run would start: network initialised, generators seeded."""

    estimator: Any
    network: Any
    config: TrainConfig
    batch_order: np.random.Generator
    rng_state: Any  # torch's CPU generator after initialisation (None on a GPU)


def fit_batched(spec: Any, trials: Sequence[dict[str, Any]], train: Any, dev: Any, fixed: dict[str, Any],
                seed: int, progress: bool = False, mode: str | None = None) -> list[Any]:
    """Fit one estimator of ``spec`` per hyper-parameter dict in ``trials``, batched.

    ``fixed`` holds the settings every trial shares (epochs, patience, device). Returns the
    fitted estimators in ``trials`` order, as ``spec.create(**params, **fixed, seed=seed)
    .fit(train, dev)`` would return them. ``mode`` forces a :func:`mask_mode` (tests).
    Raises :class:`NotBatchable` when the trials cannot match their lone runs this way.
    """
    started: list[_Trial] = []
    groups: dict[tuple, list[int]] = {}
    for index, params in enumerate(trials):
        estimator = spec.create(**params, **fixed, seed=seed)
        network, config = estimator.prepare(train)
        batch_order = start(network, config, train.labels)
        trial = _Trial(estimator, network, config, batch_order, torch.get_rng_state() if config.device == "cpu" else None)
        started.append(trial)
        groups.setdefault(_group_key(network, config, trial.rng_state), []).append(index)
    for members in groups.values():
        first = started[members[0]]
        device = first.config.device
        chosen = mode or mask_mode(device)
        if chosen is None:
            raise NotBatchable("torch's dropout here does not draw its masks through bernoulli_")
        if device == "cpu":
            generator = torch.Generator()
            generator.set_state(first.rng_state)  # where every member's lone run draws next
        else:
            generator = torch.Generator(device=device).manual_seed(seed)
        inputs = first.estimator.inputs
        train_batcher = Batcher({k: train.inputs[k] for k in inputs}, device)
        if not _draws_only_through_dropout(first.network, train_batcher(np.arange(min(4, len(train))))):
            raise NotBatchable(f"{spec.name} draws random numbers outside nn.Dropout modules")
        if any(isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats and not _group_norm(m)
               for m in first.network.modules()):
            raise NotBatchable(f"{spec.name} has a batch norm without a group form (only affine BatchNorm1d has one)")
        label = None
        if progress:
            label = f"{spec.name} trials {','.join(str(i + 1) for i in members)} (hidden {trials[members[0]].get('hidden')})"
        _train_group([started[i] for i in members], MaskStream(generator, chosen), train_batcher,
                     Batcher({k: dev.inputs[k] for k in inputs}, device), train.labels, dev.labels, label)
    return [trial.estimator for trial in started]


def fit_jobs(jobs: Sequence[Any], train: Any, dev: Any, alone: Callable[[list, Any, Any], list]) -> list[Any]:
    """Fitted estimators of ``jobs`` (:class:`.runner.FitJob`), in order.

    Jobs of one model, seed and schedule (a search's trials) train as one batched run
    (:func:`fit_batched`) when there are several and the model allows it (:func:`can_batch`);
    every other job, and the trials of a model that turns out :class:`NotBatchable` (with a
    warning), go to ``alone`` (which fits each as ``spec.create(...).fit(train, dev)``).
    """
    fitted: list[Any] = [None] * len(jobs)
    groups: dict[tuple, list[int]] = {}
    for index, job in enumerate(jobs):
        groups.setdefault((job.spec.name, job.seed, tuple(sorted(job.fixed.items()))), []).append(index)
    lone: list[int] = []
    for members in groups.values():
        first = jobs[members[0]]
        if len(members) < 2 or not can_batch(first.spec):
            lone += members
            continue
        try:
            batch = fit_batched(first.spec, [jobs[i].params for i in members], train, dev, first.fixed, first.seed,
                                progress=any(jobs[i].label for i in members))
        except NotBatchable as reason:
            warnings.warn(f"{reason}: its {len(members)} search trials train one after another")
            lone += members
            continue
        for index, estimator in zip(members, batch):
            fitted[index] = estimator
    for index, estimator in zip(lone, alone([jobs[i] for i in lone], train, dev)):
        fitted[index] = estimator
    return fitted


def _recalibrate(template: Any, buffers: dict[str, Any], forward: Callable[[dict], Any], batcher: Batcher,
                 rows: np.ndarray) -> None:
    """:func:`training.recalibrate_batch_norm` for a group: every batch norm's statistics
    re-estimated on ``rows`` with dropout off, a cumulative average per trial."""
    norms = {name: module for name, module in template.named_modules()
             if isinstance(module, (GroupBatchNorm, nn.modules.batchnorm._BatchNorm))
             and getattr(module, "track_running_stats", True)}
    if not norms:
        return
    with torch.no_grad():
        for name in norms:  # reset_running_stats, on the stacked buffers
            buffers[f"{name}.running_mean"].zero_()
            buffers[f"{name}.running_var"].fill_(1)
            buffers[f"{name}.num_batches_tracked"].zero_()
        momenta = {name: norm.momentum for name, norm in norms.items()}
        template.eval()
        for norm in norms.values():
            norm.momentum = None
            norm.train()
        for index in _batches(len(rows), PREDICT_BATCH, rows):
            forward(batcher(index))
        for name, norm in norms.items():
            norm.momentum = momenta[name]
    template.eval()


def _train_group(members: list[_Trial], stream: MaskStream, train_batcher: Batcher, dev_batcher: Batcher,
                 train_labels: np.ndarray, dev_labels: np.ndarray, label: str | None) -> None:
    """Train the trials ``members`` together, as :func:`training.fit_network` trains each."""
    config, rng = members[0].config, members[0].batch_order
    device = config.device
    params, buffers = stack_module_state([_for_group(copy.deepcopy(m.network), stream) for m in members])
    template = _for_group(copy.deepcopy(members[0].network).to("meta"), stream)
    linear_weights = [f"{name}.weight_t" for name, module in template.named_modules() if isinstance(module, GroupLinear)]
    stream.buffers = buffers
    lrs = torch.tensor([m.config.lr for m in members], dtype=torch.float32, device=device)
    bounds = [m.config.max_norm if m.config.max_norm is not None else math.inf for m in members]
    optimizer = StackedAdam(params, lrs)
    labels = torch.as_tensor(train_labels, dtype=torch.float32, device=device)
    n_train, n_dev = len(train_labels), len(dev_labels)
    calibration = calibration_rows(n_train, config.seed)

    def loss_of(p: dict, b: dict, lane: Any, batch: dict, target: Any) -> Any:
        stream.lane = lane
        with _autocast(device):
            logits = functional_call(template, (p, b), (batch,))
        return F.binary_cross_entropy_with_logits(logits.float(), target)

    def scores_of(p: dict, b: dict, batch: dict) -> Any:
        with _autocast(device):
            return torch.sigmoid(functional_call(template, (p, b), (batch,)).float())

    train_step = vmap(loss_of, in_dims=(0, 0, 0, None, None), randomness="same")
    predict = vmap(scores_of, in_dims=(0, 0, None), randomness="same")
    active = list(range(len(members)))          # positions in members of the trials still training
    histories = [{"train_loss": [], "dev_macro_f1": [], "seconds": []} for _ in members]
    best = [{"f1": -1.0, "epoch": 0, "since": 0, "state": None} for _ in members]
    train_seconds = [0.0] * len(members)
    progress = None
    if label:
        from tqdm import tqdm

        progress = tqdm(total=config.epochs, desc=label, unit="epoch", leave=False)
    for epoch in range(1, config.epochs + 1):
        started = time.perf_counter()
        template.train()
        lanes = torch.arange(len(active), device=device)
        loss_sum = torch.zeros(len(active), device=device)
        for index in _batches(n_train, config.batch_size, rng.permutation(n_train)):
            losses = train_step(params, buffers, lanes, train_batcher(index), labels[torch.as_tensor(index, device=device)])
            for param in params.values():
                param.grad = None
            losses.sum().backward()  # trials do not interact: each gets its own loss's gradient
            optimizer.step(params)
            _apply_max_norm(params, linear_weights, bounds)
            loss_sum += losses.detach() * len(index)
        elapsed = time.perf_counter() - started
        _recalibrate(template, buffers, lambda batch: predict(params, buffers, batch), train_batcher, calibration)
        template.eval()
        with torch.no_grad():
            # Rows are independent here (running statistics): chunks a group's size smaller keep
            # its temporaries (trials x rows x features) as small as a lone run's.
            chunk = max(128, PREDICT_BATCH // len(active))
            scores = np.concatenate([predict(params, buffers, dev_batcher(index)).cpu().numpy()
                                     for index in _batches(n_dev, chunk)], axis=1)
        stopped = []
        for lane, member in enumerate(active):
            dev_f1 = macro_f1(dev_labels, scores[lane])
            history, record = histories[member], best[member]
            history["train_loss"].append(float(loss_sum[lane]) / n_train)
            history["dev_macro_f1"].append(dev_f1)
            history["seconds"].append(time.perf_counter() - started)
            train_seconds[member] += elapsed
            if dev_f1 > record["f1"]:
                record.update(f1=dev_f1, epoch=epoch, since=0,
                              state={k: v[lane].detach().clone() for k, v in {**params, **buffers}.items()})
            else:
                record["since"] += 1
                if record["since"] >= members[member].config.patience:
                    stopped.append(lane)
        if progress is not None:
            progress.update(1)
            progress.set_postfix(training=len(active) - len(stopped))
        if stopped:
            kept = [lane for lane in range(len(active)) if lane not in stopped]
            if not kept:
                break
            lanes_kept = torch.tensor(kept, device=device)
            params = {k: v.detach()[lanes_kept].requires_grad_() for k, v in params.items()}
            buffers = {k: v[lanes_kept] for k, v in buffers.items()}
            stream.buffers = buffers
            optimizer.keep(lanes_kept)
            bounds = [bounds[lane] for lane in kept]
            active = [active[lane] for lane in kept]
    if progress is not None:
        progress.close()
    for member, trial in enumerate(members):
        record, history = best[member], histories[member]
        trial.network.load_state_dict(_lone_state(record["state"], list(trial.network.state_dict())))
        trained_rows = len(history["train_loss"]) * n_train
        history.update(best_epoch=record["epoch"], best_dev_macro_f1=record["f1"], batched_trials=len(members),
                       samples_per_second=trained_rows / train_seconds[member] if train_seconds[member] else math.nan)
        trial.estimator.network_, trial.estimator.history_ = trial.network, history
