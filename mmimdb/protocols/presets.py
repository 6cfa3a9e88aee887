"""The protocol presets: how each lineage of papers prepares MM-IMDb, as its own code does it.

Each preset was read in that lineage's preparation or loading code (the file and commit are
in ``source``); :mod:`mmimdb.protocols.prepare` applies it to a build. Rules a preset names
are the ones that drop movies; ``per_plot`` makes one sample per plot.

=====================  ==========================================================================
preset                 what changes against the release (split, 23 genres, longest plot)
=====================  ==========================================================================
``paper``              nothing: GMU 2017's data, what ``mmimdb build`` makes by default
``multibench``         nothing (the paper's HDF5, read by the release's row ranges)
``mmbt``               text = the longest raw plot (IMDbPY's ``::author`` kept); labels = every
                       genre, in order of first appearance in train; drops News, dev/test movies
                       with a genre train lacks, empty texts
``transformers``       MMBT's data, train and dev only (it evaluates on ``dev.jsonl``), its own
                       23-genre order; drops movies with a genre outside it (it raises otherwise)
``mmf``                text = the first plot (MMF reads ``plot[0]``); classes = ``<unk>`` + the 23
``map``                missing-aware-prompts: every raw plot, one sample per plot; genres = every
                       genre; label = their 23-genre list (the GMU order)
``map-single``         the same with ``single_plot=True``: the first raw plot only
``hemm``               the zero-shot test ids: HEMM evaluates foundation models on the ``test``
                       list of ``split.json`` only, in its order; text = ``plot[0]`` raw; the
                       answer = every genre, joined by ", "
=====================  ==========================================================================
"""
from __future__ import annotations

from dataclasses import dataclass

from ..records.genres import GENRES

#: The transformers example's label list (``utils_mmimdb.get_mmimdb_labels``), in its order.
TRANSFORMERS_LABELS: tuple[str, ...] = (
    "Crime", "Drama", "Thriller", "Action", "Comedy", "Romance", "Documentary", "Short", "Mystery", "History",
    "Family", "Adventure", "Fantasy", "Sci-Fi", "Western", "Horror", "Sport", "War", "Music", "Musical",
    "Animation", "Biography", "Film-Noir",
)

#: Rule names, as reports print them.
NEWS = "labelled News (MMBT's scripts/mmimdb.py skips them)"
UNSEEN_IN_TRAIN = "dev/test movie with a genre no train movie has (MMBT's scripts/mmimdb.py)"
EMPTY_TEXT = "empty text (MMBT's scripts/mmimdb.py)"
OUTSIDE_LABELS = "a genre outside the example's 23 labels (JsonlDataset raises ValueError)"
NO_TEST = "test split not read (run_mmimdb.py trains on train.jsonl, evaluates on dev.jsonl)"
TEST_ONLY = "train and dev not read (a zero-shot evaluation: HEMM reads split.json's test list only)"


@dataclass(frozen=True)
class Preset:
    """One lineage's preparation."""

    name: str
    summary: str
    #: Where it was read: repository, file and commit.
    source: str
    #: 'longest' (our longest plot, suffix removed), 'longest-raw' (the longest raw entry,
    #: ``::author`` kept, first on ties), 'first' (the first plot, suffix removed),
    #: 'all-raw' / 'first-raw' (every / the first raw entry: one sample per entry).
    text: str
    #: 'labels-23' (the 23, GMU order), 'all' (every genre of the record).
    genres: str = "labels-23"
    #: The label list, when fixed; None: first appearance in train (MMBT).
    labels: tuple[str, ...] | None = GENRES
    mmbt_rules: bool = False
    train_and_dev_only: bool = False
    #: Only the test split is read (zero-shot evaluations train on nothing).
    test_only: bool = False
    #: Movies whose genres fall outside ``labels`` are dropped (the reader would raise).
    drop_outside_labels: bool = False
    #: What the preset's text field is called in its lineage's files.
    text_field: str = "plot"
    per_plot: bool = False
    #: Rows per split the lineage's reader hard-codes, when it does (MultiBench's ranges).
    fixed_rows: dict[str, int] | None = None


PRESETS: dict[str, Preset] = {preset.name: preset for preset in (
    Preset("paper", "GMU 2017: the release split, the 23 genres, the longest plot",
           "johnarevalo/gmu-mmimdb (the paper; REFERENCE.md)", "longest", text_field="longest plot"),
    Preset("multibench", "MultiBench: the paper's HDF5 by the release's row ranges (all 25,959 rows)",
           "pliang279/MultiBench datasets/imdb/get_data.py", "longest", text_field="HDF5 features of the longest plot",
           fixed_rows={"train": 15552, "dev": 2608, "test": 7799}),
    Preset("mmbt", "MMBT: longest raw plot; drops News, dev/test genres train lacks, empty texts",
           "facebookresearch/mmbt scripts/mmimdb.py @ad71e9c (format_mmimdb_dataset), mmbt/data/helpers.py",
           "longest-raw", genres="all", labels=None, mmbt_rules=True, text_field="text"),
    Preset("transformers", "transformers mm-imdb example: MMBT's jsonl, train + dev, its 23-label order",
           "huggingface/transformers examples/research_projects/mm-imdb (run_mmimdb.py, utils_mmimdb.py)",
           "longest-raw", genres="all", labels=TRANSFORMERS_LABELS, mmbt_rules=True, train_and_dev_only=True,
           drop_outside_labels=True, text_field="text"),
    Preset("mmf", "MMF: the first plot (plot[0]), classes <unk> + the 23 lower-cased",
           "facebookresearch/mmf mmf/datasets/builders/mmimdb/dataset.py @b0ffc7f", "first"),
    Preset("map", "missing-aware-prompts: every raw plot, one sample per plot, their 23-genre list",
           "YiLunLee/missing_aware_prompts vilt/utils/write_mmimdb.py @9aa5381 (make_arrow)", "all-raw",
           genres="all", text_field="plots", per_plot=True),
    Preset("map-single", "missing-aware-prompts with single_plot=True: the first raw plot",
           "YiLunLee/missing_aware_prompts vilt/utils/write_mmimdb.py @9aa5381 (make_arrow, single_plot)",
           "first-raw", genres="all", text_field="plots", per_plot=True),
    # HEMM's loader reads split.json["test"] of its Hub copy (akshayg08/mmimdb_test: split.json +
    # images/ + annotations/<id>.json); that copy's split.json could not be read here, so the
    # preset applies the rule to the build's test split (the release's when the build is).
    Preset("hemm", "HEMM zero-shot: split.json's test ids only, in order, plot[0] raw, every genre",
           "pliang279/HEMM hemm/data/mmimdb_dataset.py @988168b (MMIMDBDatasetEvaluator.evaluate_dataset), "
           "hemm/prompts/mmimdb_prompt.py", "first-raw", genres="all", test_only=True,
           text_field="plot[0] in its prompt"),
)}
