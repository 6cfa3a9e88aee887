"""``mmimdb.load()``: one line to a split of the built dataset.

>>> import mmimdb
>>> train = mmimdb.load("train")                      # doctest: +SKIP
>>> train[["imdb_id", "genres", "plot"]].head()        # doctest: +SKIP
"""
from __future__ import annotations

import os
from typing import Any, Callable, Sequence

import numpy as np

from . import paths
from .dataset import built, parquet
from .dataset.built import BuiltDataset
from .errors import MmimdbError, UsageError
from .records.split_file import SPLITS

FORMATS: tuple[str, ...] = ("pandas", "numpy", "torch", "hf")



def _check_arguments(split: str, format: str, columns: Sequence[str] | None) -> list[str] | None:
    if split not in SPLITS:
        raise UsageError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    if format not in FORMATS:
        raise UsageError(f"unknown format {format!r}; use one of {', '.join(FORMATS)}")
    if columns is None:
        return None
    if isinstance(columns, str):
        columns = [columns]
    unknown = [name for name in columns if name not in parquet.COLUMNS]
    if unknown:
        raise UsageError(f"unknown column(s) {', '.join(map(repr, unknown))}; the columns are {', '.join(parquet.COLUMNS)}")
    return list(columns)


def load(split: str = "train", root: str | os.PathLike | None = None, columns: Sequence[str] | None = None,
         format: str = "pandas", features: Sequence[str] | None = None,
         transform: Callable[[Any], Any] | None = None, verify: bool = False, missing: Any = None,
         protocol: str | None = None) -> Any:
    """Load one split of the built dataset.

    ``split`` is ``train``, ``dev`` or ``test``; ``root`` the data root (default
    ``$MMIMDB_HOME``, else ``~/.cache/mmimdb``); ``columns`` a subset of
    :data:`mmimdb.dataset.parquet.COLUMNS` (default: all). ``features`` names row-aligned datasets
    of the HDF5 file (``images``, or ``features``, ``vgg_features``, ... once
    ``mmimdb build-features`` has added them) to return with the rows. ``format``:

    * ``"pandas"``: a DataFrame; ``poster`` holds the JPEG bytes, ``labels`` the 23-entry
      multi-hot vector; each feature is a column holding one array per row.
    * ``"numpy"``: a dict of arrays; ``labels`` is (N, 23) int32, text and ``poster`` are
      object arrays; each feature is an array (N, ...).
    * ``"torch"``: a ``torch.utils.data.Dataset`` of dicts (see
      :class:`mmimdb.torch_dataset.MovieDataset`); posters decode lazily, in the worker,
      into ``image``: the (3, 256, 160) float tensor of the HDF5 preprocessing, or
      ``transform(PIL image)``. Safe with ``num_workers > 0``.
    * ``"hf"``: a Hugging Face ``datasets.Dataset`` (``poster`` is an ``Image`` feature);
      needs ``datasets`` installed; its cache goes to ``<root>/huggingface``.

    ``verify=True`` first checks the files it reads (the split's Parquet file, and the HDF5
    when ``features`` are asked for) against the sha256 the manifest recorded, and raises
    :class:`MmimdbError` naming the file that differs.
    ``missing`` applies a missing-modality table written by ``mmimdb missing`` (a
    :class:`mmimdb.dataset.missing.MissingSpec` or a dict such as ``{"rate": 0.7, "type": "both",
    "seed": 0}``): where the table says text missing, ``plot`` and ``plot_outline`` are
    ``""``; where it says image missing, ``poster`` (and ``poster_sha256``, torch's
    ``image``) is ``None``; a ``missing`` column holds the codes (0, 1, 2). HDF5
    ``features`` cannot be masked this way (the benchmark zeroes them itself).

    ``protocol`` gives a lineage's data (:mod:`mmimdb.protocols`, ``mmimdb protocols`` lists
    them), in every format: its movies, one row (item) per sample, its text in ``plot`` and its
    genres in ``genres``; ``labels`` stays the 23-genre vector.

    Raises :class:`UsageError` naming ``mmimdb build`` when the dataset is not built.

    >>> mmimdb.load("test", format="numpy", columns=["imdb_id", "labels"])["labels"].shape  # doctest: +SKIP
    (7799, 23)
    """
    columns = _check_arguments(split, format, columns)
    features = [features] if isinstance(features, str) else list(features or [])
    data = BuiltDataset(root)
    path = data.require_split(split)
    if verify:
        problems = data.verify(only=[str(file.relative_to(data.root)) for file in [path] + ([data.hdf5_path] if features else [])])
        if problems:
            raise MmimdbError(f"{problems[0]}; rebuild with `mmimdb build` (and `mmimdb build-features`)")
    spec = _missing_spec(missing, features)
    if format == "torch":
        from .torch_dataset import MovieDataset

        return MovieDataset(split, root=root, columns=columns, features=features, transform=transform, missing=spec,
                            protocol=protocol)
    if transform is not None:
        raise UsageError("transform applies to format='torch' only")
    if format == "hf":
        return _load_hf(data, split, columns, features, spec, protocol)

    table = data.table(split, columns)
    ids = table.column("imdb_id").to_pylist() if "imdb_id" in table.column_names else data.parquet_ids(split)
    feature_values = _features(data, split, features, ids)
    codes = data.missing_codes(split, spec, ids) if spec is not None else None
    if protocol is not None:
        from .protocols.prepare import prepare, select_rows

        arrays = {**feature_values, **({"missing": codes} if codes is not None else {})}
        table, arrays = select_rows(prepare(root, protocol), split, table, arrays)
        codes = arrays.pop("missing", None)
        feature_values = arrays
    if format == "numpy":
        result: dict[str, np.ndarray] = {}
        for name in table.column_names:
            if name == "labels":
                result[name] = parquet.labels_matrix(table)
            elif name == "poster":
                result[name] = _object_array(parquet.poster_bytes(table).to_pylist())
            else:
                values = table.column(name).to_pylist()
                result[name] = np.asarray(values) if parquet.COLUMNS[name][0] in ("int32", "int64", "float64") and None not in values \
                    else _object_array(values)
        if codes is not None:
            result = {**_blanked(result, codes, _object_array), "missing": codes}
        return {**result, **feature_values}
    # The posters stay in Arrow memory (a pandas ArrowExtensionArray of bytes): converting
    # them to Python bytes objects held every poster twice (4x the file's size at peak).
    frame = table.drop_columns(["poster"]).to_pandas() if "poster" in table.column_names else table.to_pandas()
    if "poster" in table.column_names:
        import pandas as pd

        frame.insert(table.column_names.index("poster"), "poster", pd.arrays.ArrowExtensionArray(parquet.poster_bytes(table)))
    if codes is not None:
        for name, values in _blanked({name: frame[name].tolist() for name in frame.columns}, codes, list).items():
            frame[name] = values
        frame["missing"] = codes
    for name, values in feature_values.items():
        frame[name] = list(values)
    return frame


def _features(data: BuiltDataset, split: str, names: Sequence[str], ids: Sequence[str]) -> dict[str, Any]:
    """The HDF5 datasets ``names`` for the rows of ``split``, after checking that the HDF5's
    rows are the Parquet's (``ids``) and each is a per-movie feature of these rows."""
    if not names:
        return {}
    data.check_parquet_rows(split, ids)
    return data.vectors(split, names, kinds=built.LOADABLE)


def _missing_spec(missing: Any, features: list[str]):
    if missing is None:
        return None
    from .dataset.missing import MissingSpec

    if features:
        raise UsageError("missing= blanks plots and posters, not HDF5 features; load the features without it "
                         "(or let `mmimdb benchmark --missing-rate` zero them)")
    return MissingSpec.of(missing)


def _blanked(columns: dict[str, Any], codes: np.ndarray, wrap: Callable[[list[Any]], Any]) -> dict[str, Any]:
    """``columns`` with the absent modality of each row blanked: text "" and poster None."""
    from .dataset.missing import blank

    return {name: wrap(blank(name, list(values), codes)) for name, values in columns.items()}


def _object_array(values: list[Any]) -> np.ndarray:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def _load_hf(data: BuiltDataset, split: str, columns: list[str] | None, features: list[str], spec: Any = None,
             protocol: str | None = None):
    try:
        import datasets
    except ImportError:
        raise UsageError("format='hf' needs the `datasets` package: pip install datasets") from None
    path = data.require_split(split)
    parquet.check_readable(path)  # a truncated file: one line saying to rebuild, not datasets' traceback
    dataset = datasets.load_dataset("parquet", data_files={split: str(path)}, split=split,
                                    cache_dir=str(paths.huggingface_cache_dir(data.root)))
    if columns is not None:
        dataset = dataset.select_columns(columns)
    ids = data.parquet_ids(split) if features or spec is not None or protocol is not None else []
    for name, array in _features(data, split, features, ids).items():
        dataset = dataset.add_column(name, list(array))
    names = list(dataset.column_names)
    if spec is not None:
        dataset = dataset.add_column("missing", data.missing_codes(split, spec, ids).tolist())
    if protocol is not None:
        # The same samples as pandas (mmimdb.protocols.prepare.select_rows), chosen before
        # the missing-modality blanking, as there.
        from .protocols.prepare import prepare, sample_rows

        indices, texts, genres = sample_rows(prepare(data.root, protocol), split, ids)
        order = list(dataset.column_names)
        dataset = dataset.select(indices)
        for name, values in (("plot", texts), ("genres", genres)):
            if name in order:
                dataset = dataset.remove_columns(name).add_column(name, values)
        dataset = dataset.select_columns(order)
    if spec is not None:
        from .dataset.missing import blank

        dataset = dataset.map(lambda row: {name: blank(name, [row[name]], [row["missing"]])[0] for name in names})
    return dataset
