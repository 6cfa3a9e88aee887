"""The README dataset card: a Hugging Face YAML header, then a "Datasheets for Datasets"
body (Gebru et al.: motivation, composition, collection, preprocessing, uses, distribution,
maintenance).

The YAML is written by hand (every string as a JSON string, which YAML reads as the same
string), so no YAML package is needed to write it.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .. import paths
from ..records.genres import ORIGINAL_COUNTS
from ..dataset.parquet import COLUMNS
from ..records.split_file import SPLITS
from . import text
from .figures import FIGURES
from .stats import DatasetStats, summary

#: Parquet column type -> Hugging Face feature (YAML lines under ``- name: ...``).
_HF_FEATURES: dict[str, str] = {
    "string": "dtype: string", "int32": "dtype: int32", "int64": "dtype: int64", "float64": "dtype: float64",
    "list<string>": "sequence: string", "list<int8>": "sequence: int8",
    "struct<bytes: binary, path: string>": "dtype: image",
}


def _size_category(count: int) -> str:
    """Hugging Face's size_categories bucket."""
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if count < limit:
            return name
    return "n>1M"


def _q(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def yaml_header(root: Path, folder: Path, stats: DatasetStats) -> str:
    relative = lambda path: Path(os.path.relpath(path, folder)).as_posix()
    lines = ["---", f"pretty_name: {_q('MM-IMDb')}", "language:", "- en",
             "license: other", f"license_name: {_q('imdb-and-movielens-terms')}",
             f"license_link: {_q(text.LICENSES['IMDb data and posters (IMDb conditions of use)'])}",
             "task_categories:", "- text-classification", "- image-classification",
             "task_ids:", "- multi-label-classification", "- multi-label-image-classification",
             "size_categories:", f"- {_q(_size_category(stats.total))}",
             "tags:", "- multimodal", "- movies", "- genre-classification",
             "configs:", "- config_name: default", "  data_files:"]
    for split in SPLITS:
        lines += [f"  - split: {split}", f"    path: {_q(relative(paths.parquet_path(root, split)))}"]
    lines += ["dataset_info:", "  features:"]
    for column, (kind, _) in COLUMNS.items():
        lines += [f"  - name: {column}", f"    {_HF_FEATURES[kind]}"]
    lines.append("  splits:")
    for split in SPLITS:
        lines += [f"  - name: {split}", f"    num_bytes: {stats.bytes[split]}", f"    num_examples: {stats.count(split)}"]
    return "\n".join(lines + ["---", ""])


def table1(stats: DatasetStats) -> list[str]:
    """The paper's Table 1 for this build: movies per genre per split (+ the original's total)."""
    counts = stats.genre_counts()
    lines = ["| Genre | Train | Dev | Test | Total | Original release |", "|---|---:|---:|---:|---:|---:|"]
    for genre, row in counts.items():
        lines.append(f"| {genre} | {row['train']} | {row['dev']} | {row['test']} | {sum(row.values())} | "
                     f"{ORIGINAL_COUNTS[genre]} |")
    lines.append(f"| **Movies** | {stats.count('train')} | {stats.count('dev')} | {stats.count('test')} | "
                 f"{stats.total} | 25959 |")
    return lines


def card(root: Path, folder: Path, figures_folder: Path, stats: DatasetStats, build: dict[str, Any]) -> str:
    """The whole README.md."""
    facts = summary(stats)
    figure_path = lambda name: Path(os.path.relpath(figures_folder / name, folder)).as_posix()
    columns = "\n".join(f"| `{name}` | {kind} | {what} |" for name, (kind, what) in COLUMNS.items())
    figures = "\n\n".join(f"![{caption}]({figure_path(name)})" for name, caption in FIGURES.items())
    licenses = "\n".join(f"- {what}: <{url}>" for what, url in text.LICENSES.items())
    preprocessing = "\n".join(f"- {item}" for item in text.preprocessing())
    uses = "\n".join(f"- {item}" for item in text.uses())
    biases = "\n".join(f"- {item}" for item in text.biases(facts, stats))
    limitations = "\n".join(f"- {item}" for item in text.limitations())
    versions = build.get("versions") or {}
    body = f"""# MM-IMDb (built with mmimdb)

{text.description(stats, build)}

Paper: [{text.PAPER_URL}]({text.PAPER_URL}). Tool: [{text.PROJECT_URL}]({text.PROJECT_URL}) (mmimdb
{versions.get('mmimdb', '?')}).

## Motivation

MM-IMDb was made to study how to fuse text and images (the Gated Multimodal Unit, GMU) on a
real, multi-label task: predicting a movie's genres from its plot and its poster. It was the
largest public multimodal genre dataset when released (2017) and is used today by MMBT, MMF,
the ViLT-based missing-modality works and MultiBench.

## Composition

Each instance is a movie: IMDb id, title, year, genres, plot text(s), poster image and
credits. {facts['movies']['total']} movies; {facts['labels_per_movie']} genres per movie on
average; median plot length {facts['plot_words_median']} words; median poster
{facts['poster_median_size'][0]}x{facts['poster_median_size'][1]} pixels.
{text.label_share_sentence(stats)}

### Movies per genre and split (the paper's Table 1)

{chr(10).join(table1(stats))}

A movie counts once per genre it carries. The last column is the original release's count
over its 25,959 movies.

### Columns (Parquet, one file per split)

| Column | Type | What |
|---|---|---|
{columns}

### Figures

{figures}

## Collection process

{text.collection(stats, build)}

{text.missing_data(build)}

## Preprocessing, cleaning and labelling

{preprocessing}

{text.annotation()}

## Uses

{uses}

Known biases:

{biases}

Limitations:

{limitations}

## Distribution

The data may not be redistributed: IMDb's conditions of use and the GroupLens (MovieLens)
terms forbid it, and the posters are copyrighted. This card documents a **rebuild**: every
user runs `mmimdb fetch` and `mmimdb build` (or imports the original archive) to get the
same files. Terms:

{licenses}

The mmimdb code is MIT-licensed. `croissant.json` (Croissant 1.1) beside this card lists every
file with its sha256.

## Maintenance

{text.maintenance()}

## Citation

```bibtex
{text.CITATION}
```
"""
    return yaml_header(root, folder, stats) + body
