"""mmimdb: build, load and benchmark MM-IMDb (Arevalo et al. 2017, "Gated Multimodal Units
for Information Fusion")."""
from __future__ import annotations

__version__ = "0.1.0"
