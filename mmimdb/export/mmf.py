"""MMF's mmimdb dataset layout (``mmf/configs/datasets/mmimdb/defaults.yaml``).

``OUT`` is MMF's data folder (``env.data_dir=OUT``); the paths below are the ones MMF's
default config names under it::

    datasets/mmimdb/defaults/annotations/{train,dev,test}.jsonl   {"id", "plot", "genres", "img"}
    datasets/mmimdb/defaults/images/mmimdb/dataset/<id>.jpeg      the posters
    datasets/mmimdb/defaults/extras/classes_mm_imdb.txt           genre names, lower case, one a line
    datasets/mmimdb/defaults/extras/vocab_mmimdb.txt              words of the train plots, one a line

MMF finds the poster from the ``img`` key (it strips the extension and tries ``.jpg``,
``.jpeg``, ...), uses ``plot`` (a string), lower-cases each genre and looks it up in the
class file (after the ``<unk>`` it adds at index 0), and keeps at most 10 answers per movie:
a movie with more genres than that is refused here rather than crashing MMF mid-training.
The word list serves MMF's default GloVe text processor (``vocab_file``): words of the
train texts split as MMF splits them, most frequent first.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from ..errors import MmimdbError
from ..records.genres import GENRES
from ..records.split_file import SPLITS
from .rows import Choices, movies, split_size

BASE = Path("datasets/mmimdb/defaults")
ANNOTATIONS_DIR = BASE / "annotations"
IMAGES_DIR = BASE / "images/mmimdb/dataset"
CLASSES_FILE = BASE / "extras/classes_mm_imdb.txt"
VOCAB_FILE = BASE / "extras/vocab_mmimdb.txt"
#: MMF's answer processor holds this many answers per sample.
MAX_ANSWERS = 10
#: MMF splits sentences on runs of non-word characters and keeps them as tokens.
_SPLIT = re.compile(r"(\W+)")


def words(text: str) -> list[str]:
    """Tokens of ``text`` as MMF's sentence tokenizer makes them (lower case, ``'s`` split
    off, commas and question marks dropped, non-word runs kept as tokens)."""
    text = text.lower().replace("'s", " 's").replace(",", "").replace("?", "")
    return [token.strip() for token in _SPLIT.split(text) if token.strip()]


def write(root: Path, staging: Path, choices: Choices, progress: bool = False) -> dict[str, Any]:
    """Write MMF's layout into ``staging``; return counts."""
    from tqdm import tqdm

    for folder in (ANNOTATIONS_DIR, IMAGES_DIR, CLASSES_FILE.parent):
        (staging / folder).mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {"movies": {}, "samples": {}, "warnings": []}
    tally: Counter[str] = Counter()
    seen: dict[str, None] = {}
    vocabulary: Counter[str] = Counter()
    for split in SPLITS:
        count = samples = 0
        with open(staging / ANNOTATIONS_DIR / f"{split}.jsonl", "w", encoding="utf-8") as handle:
            for movie in tqdm(movies(root, split, choices, tally), total=split_size(root, split), desc=f"mmf {split}",
                              unit="movie", disable=not progress, leave=False):
                if len(movie.genres) > MAX_ANSWERS:
                    raise MmimdbError(f"{movie.imdb_id} has {len(movie.genres)} genres; MMF's answer processor holds "
                                      f"{MAX_ANSWERS} (use --genres 23)")
                (staging / IMAGES_DIR / movie.poster_name).write_bytes(movie.poster)
                for text in movie.texts:
                    line = {"id": movie.file_id, "plot": text, "genres": movie.genres, "img": movie.poster_name}
                    handle.write(json.dumps(line, ensure_ascii=False) + "\n")
                    if split == "train":
                        vocabulary.update(words(text))
                    samples += 1
                seen.update(dict.fromkeys(movie.genres))
                count += 1
        summary["movies"][split], summary["samples"][split] = count, samples
    # The 23 in label order always (a fixed answer space across builds), then any other
    # genre that --genres all let in.
    classes = list(GENRES) + [name for name in seen if name not in GENRES]
    (staging / CLASSES_FILE).write_text("".join(name.lower() + "\n" for name in classes), encoding="utf-8")
    ranked = sorted(vocabulary.items(), key=lambda item: (-item[1], item[0]))
    (staging / VOCAB_FILE).write_text("".join(word + "\n" for word, _ in ranked), encoding="utf-8")
    summary["classes"] = len(classes)
    if len(classes) != len(GENRES):
        summary["warnings"].append(f"{len(classes)} classes (+ <unk>): set the model's num_labels to {len(classes) + 1}")
    if choices.text == "outline":
        summary["outline_fallbacks"] = tally["outline_fallbacks"]
    return summary
