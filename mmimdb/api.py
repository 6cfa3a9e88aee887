"""``mmimdb.load()``: one line to a split of the built dataset.

>>> import mmimdb
>>> train = mmimdb.load("train")                      # doctest: +SKIP
>>> train[["imdb_id", "genres", "plot"]].head()        # doctest: +SKIP
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .dataset import hdf5, parquet
from . import paths
from .errors import MmimdbError, UsageError
from .records.split_file import SPLITS

FORMATS: tuple[str, ...] = ("pandas", "numpy", "torch", "hf")
BUILD_HINT = "run `mmimdb build` (after `mmimdb fetch`) to build it"


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


def split_file(split: str, root: str | os.PathLike | None = None) -> Path:
    """The Parquet file of ``split``; :class:`UsageError` saying how to build it if missing."""
    root = paths.data_root(root)
    path = paths.parquet_path(root, split)
    if not path.is_file():
        raise UsageError(f"no built dataset in {root} ({path} is missing); {BUILD_HINT}")
    return path


def split_features(split: str, names: Sequence[str], root: str | os.PathLike | None = None,
                  imdb_ids: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """The HDF5 datasets ``names`` for the rows of ``split`` (in Parquet row order).

    ``imdb_ids`` (``tt...``), when given, are checked against the HDF5 ``imdb_ids`` so that
    files of two different builds are never mixed.
    """
    root = paths.data_root(root)
    path = paths.hdf5_path(root)
    if not path.is_file():
        raise UsageError(f"no HDF5 file in {root} ({path} is missing); {BUILD_HINT}")
    start, stop = hdf5.read_split_ranges(path)[split]
    if imdb_ids is not None:
        stored = [value.decode("utf-8") for value in hdf5.read_rows(path, hdf5.IMDB_IDS, start, stop)]
        if stored != [imdb_id[2:] for imdb_id in imdb_ids]:
            raise MmimdbError(f"{path} and the Parquet files come from different builds; rerun `mmimdb build`")
    return {name: hdf5.read_rows(path, name, start, stop) for name in names}


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

    ``protocol`` (``"pandas"`` and ``"numpy"``) gives a lineage's data (:mod:`mmimdb.protocols`,
    ``mmimdb protocols`` lists them): its movies, one row per sample, its text in ``plot``
    and its genres in ``genres``.

    Raises :class:`UsageError` naming ``mmimdb build`` when the dataset is not built.

    >>> mmimdb.load("test", format="numpy", columns=["imdb_id", "labels"])["labels"].shape  # doctest: +SKIP
    (7799, 23)
    """
    columns = _check_arguments(split, format, columns)
    features = [features] if isinstance(features, str) else list(features or [])
    path = split_file(split, root)
    if verify:
        _verify(paths.data_root(root), [path] + ([paths.hdf5_path(paths.data_root(root))] if features else []))
    spec = _missing_spec(missing, features)
    if protocol is not None and format not in ("pandas", "numpy"):
        raise UsageError("protocol= applies to format='pandas' and 'numpy'; for torch or hf, export the protocol "
                         "(mmimdb export --protocol NAME)")
    if format == "torch":
        from .torch_dataset import MovieDataset

        return MovieDataset(split, root=root, columns=columns, features=features, transform=transform, missing=spec)
    if transform is not None:
        raise UsageError("transform applies to format='torch' only")
    if format == "hf":
        return _load_hf(split, path, root, columns, features, spec)

    table = parquet.read_table(path, columns)
    feature_values = split_features(split, features, root, _ids(table, path)) if features else {}
    codes = missing_codes(split, spec, root, _ids(table, path)) if spec is not None else None
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
                result[name] = np.asarray(_poster_bytes(table), dtype=object)
            else:
                values = table.column(name).to_pylist()
                result[name] = np.asarray(values) if parquet.COLUMNS[name][0] in ("int32", "int64", "float64") and None not in values \
                    else _object_array(values)
        if codes is not None:
            result = {**_blanked(result, codes, _object_array), "missing": codes}
        return {**result, **feature_values}
    frame = table.to_pandas()
    if "poster" in frame:
        frame["poster"] = _poster_bytes(table)
    if codes is not None:
        for name, values in _blanked({name: frame[name].tolist() for name in frame.columns}, codes, list).items():
            frame[name] = values
        frame["missing"] = codes
    for name, values in feature_values.items():
        frame[name] = list(values)
    return frame


def _missing_spec(missing: Any, features: list[str]):
    if missing is None:
        return None
    from .dataset.missing import MissingSpec

    if features:
        raise UsageError("missing= blanks plots and posters, not HDF5 features; load the features without it "
                         "(or let `mmimdb benchmark --missing-rate` zero them)")
    return MissingSpec.of(missing)


def missing_codes(split: str, spec: Any, root: str | os.PathLike | None, imdb_ids: Sequence[str]) -> np.ndarray:
    """The missing codes of ``split``'s rows under ``spec`` (from ``mmimdb missing``'s table)."""
    from .dataset.missing import read_codes

    return read_codes(split, spec, paths.data_root(root), imdb_ids)


def _blanked(columns: dict[str, Any], codes: np.ndarray, wrap: Callable[[list[Any]], Any]) -> dict[str, Any]:
    """``columns`` with the absent modality of each row blanked: text "" and poster None."""
    from .dataset.missing import blank

    return {name: wrap(blank(name, list(values), codes)) for name, values in columns.items()}


def _verify(root: Path, files: Sequence[Path]) -> None:
    from .storage import manifest

    problems = manifest.verify(root, only=[str(path.relative_to(root)) for path in files])
    if problems:
        raise MmimdbError(f"{problems[0]}; rebuild with `mmimdb build` (and `mmimdb build-features`)")


def _object_array(values: list[Any]) -> np.ndarray:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def _poster_bytes(table) -> list[bytes | None]:
    return table.column("poster").combine_chunks().field("bytes").to_pylist()


def _ids(table, path: Path) -> list[str]:
    if "imdb_id" in table.column_names:
        return table.column("imdb_id").to_pylist()
    return parquet.read_table(path, ["imdb_id"]).column("imdb_id").to_pylist()


def _load_hf(split: str, path: Path, root: str | os.PathLike | None, columns: list[str] | None, features: list[str],
             spec: Any = None):
    try:
        import datasets
    except ImportError:
        raise UsageError("format='hf' needs the `datasets` package: pip install datasets") from None
    parquet.check_readable(path)  # a truncated file: one line saying to rebuild, not datasets' traceback
    dataset = datasets.load_dataset("parquet", data_files={split: str(path)}, split=split,
                                    cache_dir=str(paths.huggingface_cache_dir(paths.data_root(root))))
    if columns is not None:
        dataset = dataset.select_columns(columns)
    if features:
        values = split_features(split, features, root, parquet.read_table(path, ["imdb_id"]).column("imdb_id").to_pylist())
        for name, array in values.items():
            dataset = dataset.add_column(name, list(array))
    if spec is not None:
        from .dataset.missing import blank

        codes = missing_codes(split, spec, root, parquet.read_table(path, ["imdb_id"]).column("imdb_id").to_pylist())
        names = list(dataset.column_names)
        dataset = dataset.add_column("missing", codes.tolist()).map(
            lambda row: {name: blank(name, [row[name]], [row["missing"]])[0] for name in names})
    return dataset
