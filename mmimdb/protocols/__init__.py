"""Protocol presets: each lineage's data (the paper's, MultiBench's, MMBT's, the transformers
example's, MMF's, missing-aware-prompts') reproduced from a build, as its own code prepares it.

:mod:`.presets` says what each preset is and where it was read; :mod:`.prepare` applies one
to a build. ``mmimdb protocols`` prints them all; ``mmimdb export --protocol NAME`` writes one.

>>> from mmimdb.protocols import prepare
>>> prepare("~/.cache/mmimdb", "mmbt").summary()["movies"]  # doctest: +SKIP
"""
from __future__ import annotations

from .prepare import Prepared, Sample, prepare
from .presets import PRESETS, Preset

__all__ = ["PRESETS", "Preset", "Prepared", "Sample", "prepare"]
