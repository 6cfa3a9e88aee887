"""mmimdb: build, load and benchmark MM-IMDb (Arevalo et al. 2017, "Gated Multimodal Units
for Information Fusion")."""
from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["load", "__version__"]

from .device import prefer_passive_openmp

prefer_passive_openmp()  # before anything imports torch: see its docstring


def __getattr__(name: str):
    # Lazy: `import mmimdb` stays light (no pandas, pyarrow or h5py until load() is used).
    if name == "load":
        from .api import load

        return load
    raise AttributeError(f"module 'mmimdb' has no attribute {name!r}")
