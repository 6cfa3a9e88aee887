"""``croissant.json``: Croissant 1.1 metadata of the built dataset (MLCommons).

Core fields, the distribution (each built file with its sha256), one record set per split
whose fields are the Parquet columns (:data:`mmimdb.dataset.parquet.COLUMNS`), a record set of the 23
labels, and the Responsible-AI (RAI) fields. Paths are relative to the folder that holds
``croissant.json``, which is how Croissant readers (``mlcroissant``) resolve them. The
``@context`` is the standard one of Croissant 1.1, as ``mlcroissant`` 1.1 writes it.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .. import __version__, paths
from ..dataset import hdf5
from ..storage.checksums import sha256_of
from ..records.genres import GENRES
from ..dataset.parquet import COLUMNS
from ..records.split_file import SPLITS
from . import text
from .stats import DatasetStats, summary

CONFORMS_TO = "http://mlcommons.org/croissant/1.1"
CONTEXT: dict[str, Any] = {
    "@language": "en", "@vocab": "https://schema.org/", "arrayShape": "cr:arrayShape", "citeAs": "cr:citeAs",
    "column": "cr:column", "conformsTo": "dct:conformsTo", "containedIn": "cr:containedIn",
    "cr": "http://mlcommons.org/croissant/", "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"}, "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/", "description": {"@container": "@language"},
    "equivalentProperty": "cr:equivalentProperty", "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract", "field": "cr:field", "fileProperty": "cr:fileProperty", "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet", "format": "cr:format", "includes": "cr:includes", "isArray": "cr:isArray",
    "isLiveDataset": "cr:isLiveDataset", "jsonPath": "cr:jsonPath", "key": "cr:key", "md5": "cr:md5",
    "name": {"@container": "@language"}, "parentField": "cr:parentField", "path": "cr:path",
    "recordSet": "cr:recordSet", "references": "cr:references", "regex": "cr:regex", "repeated": "cr:repeated",
    "replace": "cr:replace", "samplingRate": "cr:samplingRate", "sc": "https://schema.org/",
    "separator": "cr:separator", "source": "cr:source", "subField": "cr:subField", "transform": "cr:transform",
}
#: Parquet column type -> (Croissant data type, is a list).
_TYPES: dict[str, tuple[str, bool]] = {
    "string": ("sc:Text", False), "int32": ("sc:Integer", False), "int64": ("sc:Integer", False),
    "float64": ("sc:Float", False), "list<string>": ("sc:Text", True), "list<int8>": ("sc:Integer", True),
    "struct<bytes: binary, path: string>": ("sc:ImageObject", False),
}
PARQUET_FORMAT = "application/x-parquet"


def _relative(path: Path, folder: Path) -> str:
    return Path(os.path.relpath(path, folder)).as_posix()


def published_files(root: Path) -> list[str]:
    """The files of the build (relative to ``root``) that the distribution lists, when present."""
    candidates = [paths.parquet_path(root, split) for split in SPLITS] + [paths.hdf5_path(root), paths.split_path(root)]
    return [_relative(path, root) for path in candidates if path.is_file()]


def _file_object(identifier: str, path: Path, folder: Path, encoding: str, description: str) -> dict[str, Any]:
    return {"@type": "cr:FileObject", "@id": identifier, "name": identifier, "description": description,
            "contentUrl": _relative(path, folder), "encodingFormat": encoding,
            "contentSize": f"{path.stat().st_size} B", "sha256": sha256_of(path)}


def _field(split: str, column: str, file_id: str) -> dict[str, Any]:
    kind, description = COLUMNS[column]
    data_type, is_list = _TYPES[kind]
    field: dict[str, Any] = {"@type": "cr:Field", "@id": f"{split}/{column}", "name": column, "description": description,
                             "dataType": data_type, "source": {"fileObject": {"@id": file_id}, "extract": {"column": column}}}
    if is_list:
        field["isArray"] = True
        field["arrayShape"] = str(len(GENRES)) if column == "labels" else "-1"
    if data_type == "sc:ImageObject":
        field["source"]["transform"] = {"jsonPath": "bytes"}  # the struct's JPEG bytes
    return field


def metadata(root: Path, folder: Path, stats: DatasetStats, build: dict[str, Any]) -> dict[str, Any]:
    """The Croissant document for the dataset under ``root``, written in ``folder``."""
    distribution = []
    record_sets = []
    for split in SPLITS:
        file_id = f"parquet-{split}"
        distribution.append(_file_object(file_id, paths.parquet_path(root, split), folder, PARQUET_FORMAT,
                                         f"The {split} split: one row per movie, poster bytes embedded."))
        record_sets.append({"@type": "cr:RecordSet", "@id": split, "name": split,
                            "description": f"Movies of the {split} split ({stats.count(split)}).",
                            "key": {"@id": f"{split}/imdb_id"},
                            "field": [_field(split, column, file_id) for column in COLUMNS]})
    hdf5_file = paths.hdf5_path(root)
    if hdf5_file.is_file():
        distribution.append(_file_object(hdf5.FILE_NAME, hdf5_file, folder, "application/x-hdf5",
                                         "The original release's HDF5 layout (rows train, dev, test; attribute 'split')."))
    split_file = paths.split_path(root)
    if split_file.is_file():
        distribution.append(_file_object("split.json", split_file, folder, "application/json",
                                         "Ids per split, as the original release's split.json."))
    record_sets.append({
        "@type": "cr:RecordSet", "@id": "genre_labels", "name": "genre_labels", "dataType": "sc:Enumeration",
        "description": "The 23 labels, in the order of the 'labels' vectors.",
        "key": {"@id": "genre_labels/index"},
        "field": [{"@type": "cr:Field", "@id": "genre_labels/index", "name": "index", "dataType": "sc:Integer"},
                  {"@type": "cr:Field", "@id": "genre_labels/name", "name": "name", "dataType": "sc:Text"}],
        "data": [{"genre_labels/index": i, "genre_labels/name": name} for i, name in enumerate(GENRES)],
    })
    facts = summary(stats)
    document: dict[str, Any] = {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": CONFORMS_TO,
        "name": "MM-IMDb",
        "alternateName": "Multimodal IMDb",
        "description": text.description(stats, build),
        "license": list(text.LICENSES.values()),
        "url": text.PROJECT_URL,
        "version": __version__,
        "datePublished": text.PAPER_DATE,
        "citeAs": text.CITATION,
        "creator": [{"@type": "sc:Person", "name": name} for name in text.AUTHORS],
        "keywords": ["multimodal", "multi-label classification", "movie genres", "posters", "plots", "IMDb"],
        "isLiveDataset": False,
        "distribution": distribution,
        "recordSet": record_sets,
        # Responsible AI (Croissant RAI vocabulary).
        "rai:dataCollection": text.collection(stats, build),
        "rai:dataCollectionType": ["Web Scraping", "Secondary Data Analysis"],
        "rai:dataCollectionMissingData": text.missing_data(build),
        "rai:dataCollectionRawData": "Records and posters in the original release's layout (<root>/dataset: "
                                     "<id>.json with IMDbPY's keys, <id>.jpeg), kept by `mmimdb fetch`.",
        "rai:dataPreprocessingProtocol": text.preprocessing(),
        "rai:dataAnnotationProtocol": [text.annotation()],
        "rai:dataAnnotationPlatform": ["IMDb (genres assigned on IMDb title pages)"],
        "rai:dataUseCases": text.uses(),
        "rai:dataBiases": text.biases(facts, stats),
        "rai:dataLimitations": text.limitations(),
        "rai:dataSocialImpact": text.social_impact(),
        "rai:personalSensitiveInformation": text.personal_information(),
        "rai:dataReleaseMaintenancePlan": text.maintenance(),
    }
    if stats.records_written:
        document["rai:dataCollectionTimeFrame"] = list(stats.records_written)
    return document
