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
* **dropout**: a lone run on the CPU compares float32 uniforms from its own numpy stream
  (``dropout.mask_generator(seed)``) with ``1 - p`` (:mod:`.dropout`). Trials of one group
  share the seed and their layer shapes, so they stand at the same point of that stream at
  every dropout call: one draw per call serves the whole group and each trial compares it
  with its own ``1 - p``, the draw and the comparison of its lone run;
* **its own hyper-parameters**: dropout (a ``1 - p`` per trial), learning rate (a lane of
  :class:`training.Adam`), init range (its lone initialisation), max-norm (a bound per trial);
* **the lone fit's loop**: the stack (:class:`_Stack`) is one more kind of lanes for
  :func:`training.train_lanes`, which trains a lone network as one lane. The Adam step (torch's
  fused kernel, one call per lane), max-norm, batch-norm re-estimation and early stopping
  (dev macro-F1 at 0.5, patience, best-epoch weights) are the same code for both; a trial that
  stops leaves the stack, the others go on.

Three layers take a group form (same arithmetic, laid out for the stack): ``nn.Dropout``
(``dropout.StreamDropout``, as in a lone CPU run, its ``1 - p`` one buffer per trial),
``nn.BatchNorm1d`` (:class:`GroupBatchNorm`: the statistics of the
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
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from ..dataset import hdf5
from .dropout import MaskStream, mask_generator, use_stream
from .training import (PREDICT_BATCH, Batcher, TrainConfig, _autocast, _batches, limit_unit_norms, recalibrate_batch_norm,
                       start, tracked_batch_norms, train_lanes)

#: Inputs a batched group cannot share as dense tensors: these models train trial by trial.
UNBATCHED_INPUTS = frozenset({hdf5.SEQUENCES, hdf5.IMAGES})


def can_batch(spec: Any) -> bool:
    """Whether the trials of model ``spec`` can train as one batched run."""
    from .models.base import NeuralClassifier

    return (isinstance(spec.cls, type) and issubclass(spec.cls, NeuralClassifier) and bool(spec.inputs)
            and not set(spec.inputs) & UNBATCHED_INPUTS)


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
    (``dropout.StreamDropout``), every plain ``nn.BatchNorm1d`` and ``nn.Linear`` becomes its
    group form (:class:`GroupBatchNorm`, :class:`GroupLinear`)."""
    use_stream(network, stream)
    for module in list(network.modules()):
        for child_name, child in list(module.named_children()):
            if _group_norm(child):
                setattr(module, child_name, GroupBatchNorm(child))
            elif type(child) is nn.Linear:
                setattr(module, child_name, GroupLinear(child))
    return network


def _lone_state(state: dict[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    """A trial's state in its lone network's layout (``keys``): weights back to (out, in)."""
    return {key: state[key] if key in state else state[f"{key}_t"].t().contiguous() for key in keys}


def _group_key(network: Any, config: TrainConfig) -> tuple:
    """Trials train together when their shapes and schedule agree (and so their dropout draws:
    they share the seed, hence the mask stream)."""
    shapes = tuple((name, tuple(t.shape)) for name, t in network.state_dict().items())
    special = tuple(sorted({m.p for m in network.modules() if isinstance(m, nn.Dropout) and m.p in (0.0, 1.0)}))
    return (shapes, config.epochs, config.patience, config.batch_size, config.device, special)


class NotBatchable(Exception):
    """The trials of this model cannot train as one batched run that matches lone runs."""


def _draws_only_through_dropout(network: Any, batch: dict[str, Any]) -> bool:
    """Whether a training-mode forward of ``network`` draws random numbers only in its
    ``nn.Dropout`` modules (which a group replaces). A functional dropout, say, would draw
    from torch's generator, the same mask for every trial under vmap: not a lone run's."""
    device = next(iter(batch.values())).device
    probe = _for_group(copy.deepcopy(network), MaskStream(torch.Generator(device=device).manual_seed(0)))
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


def fit_batched(spec: Any, trials: Sequence[dict[str, Any]], train: Any, dev: Any, fixed: dict[str, Any],
                seed: int, progress: bool = False) -> list[Any]:
    """Fit one estimator of ``spec`` per hyper-parameter dict in ``trials``, batched.

    ``fixed`` holds the settings every trial shares (epochs, patience, device). Returns the
    fitted estimators in ``trials`` order, as ``spec.create(**params, **fixed, seed=seed)
    .fit(train, dev)`` would return them. Raises :class:`NotBatchable` when the trials cannot match their lone runs this way.
    """
    started: list[_Trial] = []
    groups: dict[tuple, list[int]] = {}
    for index, params in enumerate(trials):
        estimator = spec.create(**params, **fixed, seed=seed)
        network, config = estimator.prepare(train)
        batch_order = start(network, config, train.labels)
        started.append(_Trial(estimator, network, config, batch_order))
        groups.setdefault(_group_key(network, config), []).append(index)
    for members in groups.values():
        first = started[members[0]]
        device = first.config.device
        # On the CPU the stream every member's lone run draws its masks from (dropout.py).
        generator = mask_generator(seed) if device == "cpu" else torch.Generator(device=device).manual_seed(seed)
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
        _train_group([started[i] for i in members], MaskStream(generator), train_batcher,
                     Batcher({k: dev.inputs[k] for k in inputs}, device), train.labels, dev.labels, label)
    return [trial.estimator for trial in started]


class _Stack:
    """The trials of one group as the training loop's lanes (:func:`training.train_lanes`), one
    lane per trial: parameters and buffers stacked on a leading trial axis, the model's forward
    run once per step for the whole stack under vmap. :class:`training.LoneNetwork` is the same
    surface for one network; the loop, Adam, max-norm, batch-norm re-estimation and early
    stopping are the lone fit's own."""

    def __init__(self, members: list[_Trial], stream: MaskStream):
        self.members, self.stream = members, stream
        self.device = members[0].config.device
        self.params, self.buffers = stack_module_state([_for_group(copy.deepcopy(m.network), stream) for m in members])
        self.template = _for_group(copy.deepcopy(members[0].network).to("meta"), stream)
        self.bounded = [f"{name}.weight_t" for name, module in self.template.named_modules() if isinstance(module, GroupLinear)]
        self.norms = {**tracked_batch_norms(self.template),
                      **{name: m for name, m in self.template.named_modules() if isinstance(m, GroupBatchNorm)}}
        self.max_norms = [m.config.max_norm for m in members]
        self._set_lanes()
        device = self.device

        def loss_of(p: dict, b: dict, batch: dict, target: Any) -> Any:
            with _autocast(device):
                logits = functional_call(self.template, (p, b), (batch,))
            return F.binary_cross_entropy_with_logits(logits.float(), target)

        def scores_of(p: dict, b: dict, batch: dict) -> Any:
            with _autocast(device):
                return torch.sigmoid(functional_call(self.template, (p, b), (batch,)).float())

        self.train_step = vmap(loss_of, in_dims=(0, 0, None, None), randomness="same")
        self.predict = vmap(scores_of, in_dims=(0, 0, None), randomness="same")

    def _set_lanes(self) -> None:
        # Made once per stack (again when trials leave), not per step: each trial's views.
        n = len(self.max_norms)
        self._lanes = [[p.detach()[t] for p in self.params.values()] for t in range(n)]
        self._bounded_lanes = [(self.params[name].detach()[lane], max_norm) for name in self.bounded
                               for lane, max_norm in enumerate(self.max_norms) if max_norm is not None]

    def lane_parameters(self) -> list[list[Any]]:
        return self._lanes

    def lane_grads(self) -> list[list[Any]]:
        grads = [p.grad for p in self.params.values()]
        return [[None if g is None else g[t] for g in grads] for t in range(len(self._lanes))]

    def train(self) -> None:
        self.template.train()

    def losses(self, batch: dict[str, Any], target: Any) -> Any:
        return self.train_step(self.params, self.buffers, batch, target)

    def zero_grad(self) -> None:
        for param in self.params.values():
            param.grad = None

    def limit_norms(self) -> None:
        for weight, max_norm in self._bounded_lanes:  # weight_t (in, out): a unit's incoming weights are a column
            limit_unit_norms(weight, max_norm, inputs_dim=0)

    def recalibrate(self, batcher: Batcher, rows: np.ndarray) -> None:
        recalibrate_batch_norm(self.template, self.norms, self.buffers,
                               lambda batch: self.predict(self.params, self.buffers, batch), batcher, rows)

    def scores(self, batcher: Batcher) -> np.ndarray:
        self.template.eval()
        with torch.no_grad():
            # Rows are independent here (running statistics): chunks a stack's size smaller keep
            # its temporaries (trials x rows x features) as small as a lone run's.
            chunk = max(128, PREDICT_BATCH // len(self._lanes))
            return np.concatenate([self.predict(self.params, self.buffers, batcher(index)).cpu().numpy()
                                   for index in _batches(batcher.n_rows, chunk)], axis=1)

    def snapshot(self, lane: int) -> dict[str, Any]:
        return {k: v[lane].detach().clone() for k, v in {**self.params, **self.buffers}.items()}

    def keep(self, kept: Sequence[int]) -> None:
        lanes = torch.tensor(kept, device=self.device)
        self.params = {k: v.detach()[lanes].requires_grad_() for k, v in self.params.items()}
        self.buffers = {k: v[lanes] for k, v in self.buffers.items()}
        self.max_norms = [self.max_norms[lane] for lane in kept]
        self._set_lanes()

    def restore(self, member: int, state: dict[str, Any]) -> None:
        network = self.members[member].network
        network.load_state_dict(_lone_state(state, list(network.state_dict())))


def _train_group(members: list[_Trial], stream: MaskStream, train_batcher: Batcher, dev_batcher: Batcher,
                 train_labels: np.ndarray, dev_labels: np.ndarray, label: str | None) -> None:
    """Train the trials ``members`` together, through the lone fit's loop (:func:`training.train_lanes`)."""
    histories = train_lanes(_Stack(members, stream), [m.config for m in members], members[0].batch_order,
                            train_batcher, dev_batcher, train_labels, dev_labels, label)
    for trial, history in zip(members, histories):
        history["batched_trials"] = len(members)
        trial.estimator.network_, trial.estimator.history_ = trial.network, history
