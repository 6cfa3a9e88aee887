"""The model registry: every benchmark model by its Table 2 name.

A model is a class with the scikit-learn-like surface of
:class:`mmimdb.benchmark.models.base.NeuralClassifier`: hyperparameters in ``__init__``,
``fit(train, dev)``, ``predict_proba(inputs)``. ``register`` adds a name for it, with the
HDF5 datasets it reads. To add a model, write one file in ``mmimdb/benchmark/models/`` (every module
there is imported at start) or anywhere and pass it with ``mmimdb benchmark --plugin FILE``::

    from .base import NeuralClassifier, classifier_head
    from .registry import register

    @register("MyFusion", inputs=("vgg_features", "features"), modality="Multimodal")
    class MyFusion(NeuralClassifier):
        def build(self, dims):
            ...  # an nn.Module whose forward({name: tensor}) returns logits (n, 23)
"""
from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field
from typing import Any, Callable

from ...errors import UsageError

#: Where a model's row goes in Table 2.
MODALITIES = ("Multimodal", "Text", "Visual", "Reference")
#: The hyperparameters of the paper's random search (``training.sample_params``).
HYPERPARAMETERS = ("hidden", "dropout", "lr", "init_range", "max_norm")


@dataclass(frozen=True)
class ModelSpec:
    """A registered model: its name, class, inputs and fixed constructor arguments."""

    name: str
    cls: type
    inputs: tuple[str, ...]
    modality: str
    shared: tuple[str, ...] = ()
    fixed: dict[str, Any] = field(default_factory=dict)
    searchable: bool = True
    #: The hyperparameters the model has (the runner passes, and the search draws, only these).
    hyperparameters: tuple[str, ...] = HYPERPARAMETERS
    #: The model without its features, e.g. "MaxoutMLP" for MaxoutMLP_w2v: reports name a row
    #: "<family> on <features>" when the features are not the ones its Table 2 name says.
    family_name: str | None = None

    @property
    def family(self) -> str:
        return self.family_name or self.name

    def create(self, **params: Any) -> Any:
        """A fresh, unfitted estimator with ``params`` (e.g. hidden, dropout, seed); they
        take precedence over the constructor arguments the model was registered with."""
        return self.cls(inputs=self.inputs, **{**self.fixed, **params})

    def own(self, params: dict[str, Any]) -> dict[str, Any]:
        """The entries of ``params`` that are hyperparameters of this model."""
        return {key: value for key, value in params.items() if key in self.hyperparameters}


MODELS: dict[str, ModelSpec] = {}


def register(name: str, inputs: tuple[str, ...], modality: str, cls: type | None = None,
             shared: tuple[str, ...] = (), searchable: bool = True,
             hyperparameters: tuple[str, ...] = HYPERPARAMETERS, family: str | None = None,
             **fixed: Any) -> Callable[[type], type] | type:
    """Register ``cls`` (or the decorated class) under ``name``; ``fixed`` goes to ``__init__``.

    ``hyperparameters``: which of the search's hyperparameters the model has (a logistic
    regression has no hidden layer and no dropout); the others keep the class's defaults.
    ``family``: the model without its features (default: ``name``), for reports.
    """
    if modality not in MODALITIES:
        # A plugin's mistake: one line for its author, not a traceback.
        raise UsageError(f"register({name!r}): modality must be one of {', '.join(MODALITIES)}, not {modality!r}")

    def add(model_cls: type) -> type:
        unknown = set(hyperparameters) - set(HYPERPARAMETERS)
        if unknown:
            raise UsageError(f"register({name!r}): hyperparameters must be among {', '.join(HYPERPARAMETERS)}, "
                             f"not {', '.join(sorted(unknown))}")
        MODELS[name] = ModelSpec(name, model_cls, tuple(inputs), modality, tuple(shared), dict(fixed), searchable,
                                 tuple(hyperparameters), family)
        return model_cls

    return add(cls) if cls is not None else add


def get(name: str) -> ModelSpec:
    """The model called ``name`` (case-insensitive), or a usage error listing the known ones."""
    lowered = {key.lower(): key for key in MODELS}
    key = lowered.get(name.strip().lower())
    if key is None:
        raise UsageError(f"unknown model {name!r}; known models: {', '.join(MODELS)} (or 'all')")
    return MODELS[key]


def load_plugin(path: str | os.PathLike) -> None:
    """Import a user's model file, whose ``register`` calls add its models."""
    spec = importlib.util.spec_from_file_location(f"mmimdb_plugin_{abs(hash(str(path)))}", path)
    if spec is None or spec.loader is None or not os.path.isfile(path):
        raise UsageError(f"--plugin {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as error:
        where = f"line {error.lineno}" + (f", column {error.offset}" if error.offset else "")
        raise UsageError(f"--plugin {path}: syntax error at {where}: {error.msg}") from None
    except ImportError as error:
        raise UsageError(f"--plugin {path}: {error}") from None
