"""Dropout masks for training: on the CPU drawn by numpy, in one stream that a lone fit and the
trials of a batched search (``search.py``) draw alike.

torch's CPU dropout draws each mask element with ``bernoulli_``, one double at a time on one
thread; a GMU step at the paper's sizes needs 1.3 M of them, and they were the largest cost of
the step after the matrix products (``benchmarks/train_speed.py`` prints the breakdown). Here a
mask is ``uniform < 1 - p`` of float32 uniforms that numpy's PCG64 fills into a reused buffer,
several times faster. The uniforms come from their own generator, ``default_rng([seed, 2])``
(the batch order is ``default_rng(seed)``, the batch-norm sample ``[seed, 1]``), so that:

* a lone fit with a seed gives the same numbers run after run, on any CPU;
* trials of a search that share the seed and their layer shapes stand at the same point of the
  same stream at every dropout call: one draw per call serves a whole stacked group, each
  trial comparing it with its own ``1 - p`` (:class:`MaskStream`, ``lane``), which is the draw
  and the comparison its lone fit makes, element for element.

On a GPU a lone fit keeps torch's dropout, and a batched group draws its uniforms from one
CUDA generator: a lone run's distribution, not its masks (a lone GPU run under bfloat16
autocast is not bit-reproducible either).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

#: The third generator of a run (after the batch order and the batch-norm sample).
MASK_STREAM = 2


def mask_generator(seed: int) -> np.random.Generator:
    """The generator of a CPU run's dropout uniforms."""
    return np.random.default_rng([seed, MASK_STREAM])


class MaskStream:
    """Where the dropout uniforms of one training come from: a numpy generator (the CPU) or a
    torch generator (a GPU). In a batched search's stack (under vmap) a draw is one trial's
    shape, unbatched, and each trial's ``keep`` buffer batches the comparison."""

    def __init__(self, source: np.random.Generator | torch.Generator):
        self.source = source
        self._reused: dict[tuple[int, ...], np.ndarray] = {}  # a buffer per shape: no page faults per call

    def uniform(self, shape: tuple[int, ...], device: Any) -> torch.Tensor:
        """Float32 uniforms in [0, 1) of ``shape`` (a plain tensor, the same for every trial of a stack)."""
        with torch.profiler.record_function("dropout masks"):  # named for benchmarks/train_speed.py's profile
            if isinstance(self.source, np.random.Generator):
                out = self._reused.get(shape)
                if out is None:
                    out = self._reused[shape] = np.empty(shape, dtype=np.float32)
                self.source.random(out=out, dtype=np.float32)
                return torch.from_numpy(out)  # read at once by the comparison; overwritten at the next call
            return torch.empty(shape, device=device).uniform_(generator=self.source)


class StreamDropout(nn.Dropout):
    """``nn.Dropout(p)`` whose masks come from a :class:`MaskStream`: ``x * (u < keep) / keep``
    with ``keep = 1 - p`` (a float32 buffer, one per trial in a stack)."""

    def __init__(self, p: float, stream: MaskStream):
        super().__init__(p)
        self.stream = stream
        self.register_buffer("keep", torch.tensor(1.0 - p, dtype=torch.float32), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # As torch's dropout: p = 0 draws nothing; p = 1 zeroes without drawing.
        if not self.training or self.p == 0:
            return x
        if self.p == 1:
            return x * 0
        # Compare in float32, then scale in x's dtype (mixed bool-float kernels are many times slower).
        noise = (self.stream.uniform(tuple(x.shape), x.device) < self.keep).to(x.dtype)
        return x * noise.mul_(torch.ones((), dtype=x.dtype, device=x.device) / self.keep.to(x.dtype))


def use_stream(network: nn.Module, stream: MaskStream) -> list[tuple[nn.Module, str, nn.Module]]:
    """Replace, in place, every plain ``nn.Dropout`` of ``network`` by a :class:`StreamDropout`
    drawing from ``stream``; returns what was replaced, for :func:`put_back`."""
    replaced = []
    for module in list(network.modules()):
        for name, child in list(module.named_children()):
            if type(child) is nn.Dropout:
                dropout = StreamDropout(child.p, stream)
                dropout.train(child.training)
                setattr(module, name, dropout)
                replaced.append((module, name, child))
    return replaced


def put_back(replaced: list[tuple[nn.Module, str, nn.Module]]) -> None:
    """Undo :func:`use_stream`: the network's own ``nn.Dropout`` modules again."""
    for module, name, original in replaced:
        original.train(getattr(module, name).training)
        setattr(module, name, original)
