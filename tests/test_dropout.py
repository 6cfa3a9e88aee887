"""Dropout masks on the CPU (``benchmark/dropout.py``): numpy's stream, the same masks for a
lone network and for each trial of a stacked group, and the model's own modules after fit."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402
from torch.func import functional_call, stack_module_state, vmap  # noqa: E402

from mmimdb.benchmark import models  # noqa: E402
from mmimdb.benchmark.data import Split  # noqa: E402
from mmimdb.benchmark.dropout import MaskStream, StreamDropout, mask_generator, use_stream  # noqa: E402


def test_a_mask_keeps_one_minus_p_of_the_units_scaled_by_its_inverse():
    dropout = StreamDropout(0.3, MaskStream(mask_generator(0))).train()
    out = dropout(torch.ones(400, 500))
    values = torch.unique(out).tolist()
    assert len(values) == 2 and values[0] == 0 and values[1] == pytest.approx(1 / 0.7)
    assert abs(float((out > 0).float().mean()) - 0.7) < 0.005
    assert torch.equal(dropout.eval()(out), out)  # evaluation: no mask


def test_the_same_seed_draws_the_same_masks_and_p_zero_draws_nothing():
    first, second = MaskStream(mask_generator(5)), MaskStream(mask_generator(5))
    x = torch.randn(64, 32)
    StreamDropout(0.0, first).train()(x)  # draws nothing: both streams stay level
    assert torch.equal(StreamDropout(0.5, first).train()(x), StreamDropout(0.5, second).train()(x))
    assert not torch.equal(StreamDropout(0.5, first).train()(x), StreamDropout(0.5, MaskStream(mask_generator(6))).train()(x))


def test_one_draw_serves_a_stack_each_trial_getting_its_lone_mask():
    """Under vmap (the batched search) a draw is shared and each trial compares it with its own
    1 - p: what the trial's lone network, on the same stream, draws and compares."""
    ps = [0.2, 0.5, 0.65]
    x = torch.randn(16, 40)
    stacked = [StreamDropout(p, MaskStream(mask_generator(1))).train() for p in ps]
    params, buffers = stack_module_state(stacked)
    group = MaskStream(mask_generator(3))
    template = StreamDropout(0.5, group).train()  # p itself is per trial, in the "keep" buffers
    together = vmap(lambda b: functional_call(template, ({}, b), (x,)), randomness="same")(buffers)
    for p, row in zip(ps, together):
        assert torch.equal(row, StreamDropout(p, MaskStream(mask_generator(3))).train()(x)), p


def test_fit_trains_through_the_stream_and_leaves_the_models_own_dropout():
    rng = np.random.default_rng(0)
    labels = (rng.uniform(size=(64, 23)) < 0.3).astype(np.float32)
    inputs = {"vgg_features": rng.normal(size=(64, 12)).astype(np.float32),
              "features": rng.normal(size=(64, 6)).astype(np.float32)}
    split = Split("train", inputs, labels, [str(i) for i in range(64)])
    gmu = models.get("GMU").create(hidden=8, epochs=2, patience=2).fit(split, split)
    dropouts = [m for m in gmu.network_.modules() if isinstance(m, nn.Dropout)]
    assert dropouts and all(type(m) is nn.Dropout for m in dropouts)
    network = gmu.network_
    replaced = use_stream(network, MaskStream(mask_generator(0)))
    assert len(replaced) == len(dropouts) and all(type(m) is StreamDropout for m in network.modules()
                                                    if isinstance(m, nn.Dropout))
