"""The GMU and the baselines of the paper's Table 2, all behind one small interface.

>>> from mmimdb.benchmark import models
>>> spec = models.get("GMU")
>>> spec.inputs
('vgg_features', 'features')
>>> estimator = spec.create(hidden=128, epochs=5)           # doctest: +SKIP
>>> estimator.fit(train, dev).predict_proba(test.inputs)    # doctest: +SKIP

Importing this package imports every module in it, so a model file dropped here registers
itself (see :mod:`mmimdb.benchmark.models.registry`). torch is imported here: import this package
lazily from code that other commands load.
"""
from __future__ import annotations

import importlib
import pkgutil

from .registry import MODELS, ModelSpec, get, load_plugin, register

# The paper's models first, in Table 2's order of families; then any file a user added here.
_BUILT_IN = ("gmu", "fusion", "moe", "mlp", "rnn", "cnn", "baseline")
for _name in _BUILT_IN + tuple(m.name for m in pkgutil.iter_modules(__path__) if m.name not in _BUILT_IN + ("base", "registry")):
    importlib.import_module(f"{__name__}.{_name}")

__all__ = ["MODELS", "ModelSpec", "get", "load_plugin", "register"]
