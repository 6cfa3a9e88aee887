"""The peers' loader contracts, rebuilt faithfully (their code is not ours to copy: MMBT is
CC BY-NC, missing_aware_prompts has no license), so that a test can read an export the way
each peer does. Each function names the file it follows; the same exports were also read by
the peers' own code, run by hand against these files (see README, "Exports").

Every reader returns, per sample: the IMDb id (``tt...``), the 23 labels in
:data:`mmimdb.records.genres.GENRES` order, the raw poster bytes it opened, and the decoded image,
so that a test can compare them with ``mmimdb.load()``.
"""
from __future__ import annotations

import json
import os
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np
from PIL import Image

from mmimdb.records.genres import GENRES

#: ``get_mmimdb_labels()`` of transformers' utils_mmimdb.py: the 23 genres in its own order.
TRANSFORMERS_LABELS = ["Crime", "Drama", "Thriller", "Action", "Comedy", "Romance", "Documentary", "Short",
                       "Mystery", "History", "Family", "Adventure", "Fantasy", "Sci-Fi", "Western", "Horror",
                       "Sport", "War", "Music", "Musical", "Animation", "Biography", "Film-Noir"]
#: torchvision.datasets.folder.IMG_EXTENSIONS, the order MMF tries extensions in.
TORCHVISION_IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
#: ImageDatabase._get_possible_attrs(): keys MMF looks for the image path under, in order.
MMF_IMAGE_KEYS = ("Flickr30kID", "Flikr30kID", "identifier", "image_path", "image_name", "img", "image_id")


@dataclass
class Sample:
    imdb_id: str
    labels: list[int]          # the 23, GENRES order
    poster: bytes | None       # bytes of the file the reader opened
    image: Image.Image | None  # what the reader decoded
    text: str


def _in_genres_order(vector, names: list[str]) -> list[int]:
    return [int(vector[names.index(genre)]) for genre in GENRES]


def transformers_jsonl(data_dir: str, split: str) -> tuple[list[Sample], np.ndarray]:
    """transformers examples/research_projects/mm-imdb/utils_mmimdb.py ``JsonlDataset`` and
    run_mmimdb.py: ``<data_dir>/<split>.jsonl``, one JSON object a line; the multi-hot label
    from ``labels.index(tgt)`` over the hard-coded list (a 24th name raises ValueError); the
    image ``Image.open(os.path.join(dirname(jsonl), row["img"])).convert("RGB")``; and the loss
    weights ``(train frequency / len(train)) ** -1`` per label (returned; a genre absent from
    train gives inf)."""
    path = os.path.join(data_dir, f"{split}.jsonl")
    data = [json.loads(line) for line in open(path)]
    samples = []
    for row in data:
        label = np.zeros(len(TRANSFORMERS_LABELS))
        label[[TRANSFORMERS_LABELS.index(target) for target in row["label"]]] = 1
        image_path = os.path.join(os.path.dirname(path), row["img"])
        image = Image.open(image_path).convert("RGB")
        samples.append(Sample("tt" + row["id"], _in_genres_order(label, TRANSFORMERS_LABELS),
                              open(image_path, "rb").read(), image, row["text"]))
    frequencies = Counter()
    for row in data:
        frequencies.update(row["label"])
    with np.errstate(divide="ignore"):
        weights = (np.array([frequencies[name] for name in TRANSFORMERS_LABELS], dtype=np.float64) / len(data)) ** -1
    return samples, weights


def mmbt_labels(task_dir: str) -> list[str]:
    """mmbt/data/helpers.py ``get_labels_and_frequencies``: the label list is the keys of a
    Counter updated with each train line's labels, i.e. first appearance in train.jsonl."""
    frequencies = Counter()
    for line in open(os.path.join(task_dir, "train.jsonl")):
        frequencies.update(json.loads(line)["label"])
    return list(frequencies.keys())


def mmbt_jsonl(data_path: str, name: str, task: str = "mmimdb") -> list[Sample]:
    """mmbt/data/dataset.py ``JsonlDataset`` as helpers.py ``get_data_loaders`` builds it for
    ``<data_path>/<task>/<name>.jsonl`` (name: train, dev, test and, always, test_hard_gt):
    ``args.labels.index(tgt)`` for each of ``row["label"]`` (ValueError for a label never seen
    in train); ``Image.open(os.path.join(data_dir, row["img"])).convert("RGB")`` when
    ``row["img"]`` is set, else a grey 256x256 image."""
    task_dir = os.path.join(data_path, task)
    labels = mmbt_labels(task_dir)
    samples = []
    for line in open(os.path.join(task_dir, f"{name}.jsonl")):
        row = json.loads(line)
        vector = np.zeros(len(labels))
        vector[[labels.index(target) for target in row["label"]]] = 1
        if row["img"]:
            image_path = os.path.join(task_dir, row["img"])
            poster, image = open(image_path, "rb").read(), Image.open(image_path).convert("RGB")
        else:
            poster, image = None, Image.fromarray(128 * np.ones((256, 256, 3), dtype=np.uint8))
        present = [int(vector[labels.index(g)]) if g in labels else 0 for g in GENRES]
        samples.append(Sample("tt" + row["id"], present, poster, image, row["text"]))
    return samples


def _mmf_image_path(base: str, image: str) -> str | None:
    """mmf/datasets/databases/image_database.py ``get_possible_image_paths`` as ``from_path``
    calls it: join the images folder and the annotation's value, drop what follows the last
    dot, and take the first existing file among torchvision's image extensions."""
    path = os.path.join(base, image)
    parts = path.split(".")
    parts = parts if len(parts) == 1 else parts[:-1]
    for extension in TORCHVISION_IMG_EXTENSIONS:
        candidate = ".".join(parts) + extension
        if os.path.isfile(candidate):
            return candidate
    return None


def _mmf_word_tokenize(word: str) -> str:
    """mmf/utils/text.py ``word_tokenize`` (the ``simple_word`` preprocessor of answers)."""
    word = word.lower()
    for item in (",", "?"):
        word = word.replace(item, "")
    return word.replace("'s", " 's").strip()


def mmf_classes(class_file: str) -> list[str]:
    """mmf/utils/text.py ``VocabDict``: one stripped line per word; ``<unk>`` put first when
    the file lacks it."""
    words = [line.strip() for line in open(class_file).readlines()]
    return words if "<unk>" in words else ["<unk>"] + words


def mmf_split(data_dir: str, split: str) -> list[Sample]:
    """MMF's mmimdb image dataset (mmf/datasets/builders/mmimdb/dataset.py
    ``MMIMDbImageDataset.__getitem__``) over the paths of configs/datasets/mmimdb/defaults.yaml:
    annotation lines read by ``AnnotationDatabase._load_jsonl`` (``json.loads(line.strip("\\n"))``);
    ``plot`` used as is, or its first item when a list; the image found by ``ImageDatabase``
    from the first present key of ``_get_possible_attrs``; the answers by
    ``MultiHotAnswerFromVocabProcessor`` (``VQAAnswerProcessor.__call__``): each genre through
    ``word_tokenize``, the list repeated up to 10 answers (an 11th overflows its index tensor),
    indices from the class file (unknown -> ``<unk>``), scores 1 at those indices and 0 at
    ``<unk>``."""
    base = os.path.join(data_dir, "datasets/mmimdb/defaults")
    classes = mmf_classes(os.path.join(base, "extras/classes_mm_imdb.txt"))
    unknown = classes.index("<unk>")
    samples = []
    for line in open(os.path.join(base, "annotations", f"{split}.jsonl")).readlines():
        info = json.loads(line.strip("\n"))
        plot = info["plot"][0] if isinstance(info["plot"], list) else info["plot"]
        key = next(key for key in MMF_IMAGE_KEYS if info.get(key) is not None)
        image_path = _mmf_image_path(os.path.join(base, "images/mmimdb/dataset/"), info[key])
        if image_path is None:
            raise RuntimeError(f"Image not found for {info[key]}")
        tokens = [_mmf_word_tokenize(answer) for answer in info["genres"]]
        if tokens:
            while len(tokens) < 10:
                tokens += tokens[: 10 - len(tokens)]
        indices = np.full(10, unknown)
        for position, token in enumerate(tokens):
            indices[position] = classes.index(token) if token in classes else unknown  # IndexError past 10
        scores = np.zeros(len(classes))
        scores[indices] = 1
        scores[unknown] = 0
        labels = [int(scores[classes.index(genre.lower())]) for genre in GENRES]
        samples.append(Sample("tt" + info["id"], labels, open(image_path, "rb").read(),
                              Image.open(image_path).convert("RGB"), plot))
    return samples


def mmf_vocabulary_words(text: str) -> list[str]:
    """mmf/utils/text.py ``tokenize`` (the simple_sentence preprocessor's split)."""
    text = text.lower().replace("'s", " 's")
    for token in (",", "?"):
        text = text.replace(token, "")
    return [token.strip() for token in re.split(r"(\W+)", text) if len(token.strip()) > 0]


def vilt_arrow(data_dir: str, name: str):
    """missing_aware_prompts vilt/datasets/base_dataset.py: ``pa.ipc.RecordBatchFileReader(
    pa.memory_map(f"{data_dir}/{name}.arrow", "r")).read_all()``; texts from
    ``table["plots"].to_pandas().tolist()``; ``index_mapper`` one sample per (movie, plot);
    the image ``Image.open(io.BytesIO(table["image"][i].as_py())).convert("RGB")``; and
    mmimdb_dataset.py's label ``table["label"][i].as_py()``. Returns (samples, table)."""
    import io

    import pyarrow as pa

    table = pa.ipc.RecordBatchFileReader(pa.memory_map(f"{data_dir}/{name}.arrow", "r")).read_all()
    texts = table["plots"].to_pandas().tolist()
    samples = []
    for movie, plots in enumerate(texts):
        for plot in plots:
            poster = table["image"][movie].as_py()
            samples.append(Sample("tt" + table["image_id"][movie].as_py(), list(table["label"][movie].as_py()), poster,
                                  Image.open(io.BytesIO(poster)).convert("RGB"), plot))
    return samples, table


def vilt_missing_table(missing_table_root: str, name: str, missing_type: str, ratio: float, total: int):
    """vilt/datasets/mmimdb_dataset.py: the table file is
    ``f"{name}_missing_{missing_type}_{str(ratio).replace('.', '')}.pt"`` under
    ``missing_table_root``, loaded with ``torch.load`` when it exists (here
    ``weights_only=True``: no unpickling), and must have one entry per movie (the reader
    exits on a mismatch)."""
    import torch

    path = os.path.join(missing_table_root, f"{name}_missing_{missing_type}_{str(ratio).replace('.', '')}.pt")
    assert os.path.exists(path), path  # else the reader draws a table of its own
    table = torch.load(path, weights_only=True)
    assert len(table) == total, "missing table mismatched!"
    return table


def multibench_rows(path: str, start: int, end: int, names=("images", "genres")):
    """MultiBench datasets/imdb/get_data.py ``IMDBDataset.__getitem__``: an h5py handle on the
    file, row ``ind + start_ind`` of ``features``, ``images`` (or ``vgg_features``) and
    ``genres``, for ``ind`` in ``range(end_ind - start_ind)``. (Its loaders hard-code the
    release's row ranges 0-15552-18160-25959; a smaller build passes its own.)"""
    import h5py

    dataset = h5py.File(path, "r")
    try:
        return {name: [dataset[name][index + start] for index in range(end - start)] for name in names}
    finally:
        dataset.close()
