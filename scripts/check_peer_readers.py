"""Read mmimdb's exports with the peers' own loader code (by hand, not in CI).

The tests rebuild each peer's loader contract (tests/export_readers.py); this script runs the
peers' real code on real exports, from checkouts you provide (their code is not shipped:
MMBT is CC BY-NC, missing_aware_prompts has no license). Heavy imports the checked code paths
never use (torchvision, BERT tokenizers, MMF's IO and registry) are replaced by small
stand-ins; the dataset classes themselves are the peers'.

    python scripts/check_peer_readers.py --root ROOT \\
        --transformers-mmimdb transformers/examples/research_projects/mm-imdb \\
        --mmbt mmbt --mmf mmf --vilt missing_aware_prompts --multibench MultiBench

ROOT must be built (`mmimdb build`), exported (`mmimdb export --format jsonl|mmf|arrow|hdf5`),
have missing tables (`mmimdb missing --rate 0.7 --type both --seed 0`) and, for MultiBench,
a `features` dataset (`mmimdb build-features --only text ...`). Each check prints what the
peer's loader read; any exception is a failure.
"""
from __future__ import annotations

import argparse
import ast
import collections
import json
import os
import sys
import types
import warnings
from pathlib import Path

import numpy as np
import torch


def _to_tensor(image):
    return torch.from_numpy(np.asarray(image.resize((224, 224)), dtype=np.float32).transpose(2, 0, 1) / 255)


def _stub_torchvision() -> None:
    torchvision = types.ModuleType("torchvision")
    transforms = types.ModuleType("torchvision.transforms")
    transforms.Compose = lambda steps: _to_tensor
    datasets, folder = types.ModuleType("torchvision.datasets"), types.ModuleType("torchvision.datasets.folder")
    folder.IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
    torchvision.transforms, torchvision.models, datasets.folder, torchvision.datasets = \
        transforms, types.SimpleNamespace(), folder, datasets
    sys.modules.update({"torchvision": torchvision, "torchvision.transforms": transforms,
                        "torchvision.datasets": datasets, "torchvision.datasets.folder": folder})


class _Tokenizer:
    """A BERT-like encode(): [CLS] + one id per word + [SEP]."""

    def encode(self, text, add_special_tokens=True):
        return [101] + [1000 + len(word) for word in text.split()] + [102]

    def __call__(self, text, **kwargs):
        return {"input_ids": self.encode(text)}


def _classes(path: str, names: list[str], namespace: dict) -> dict:
    """Execute the named top-level classes of a peer's source file in ``namespace``."""
    tree = ast.parse(open(path).read())
    nodes = [node for node in tree.body if isinstance(node, ast.ClassDef) and node.name in names]
    for node in nodes:
        node.decorator_list = []
    exec(compile(ast.Module(body=nodes, type_ignores=[]), path, "exec"), namespace)
    return namespace


def check_transformers(directory: str, data_dir: str) -> None:
    sys.path.insert(0, directory)
    import utils_mmimdb as hf

    labels = hf.get_mmimdb_labels()
    for split in ("train", "dev"):
        dataset = hf.JsonlDataset(os.path.join(data_dir, f"{split}.jsonl"), _Tokenizer(), _to_tensor, labels, 100)
        batch = hf.collate_fn([dataset[i] for i in range(len(dataset))])
        print(f"transformers {split}: {len(dataset)} samples, images {tuple(batch[2].shape)}, labels {int(batch[5].sum())}")
    train = hf.JsonlDataset(os.path.join(data_dir, "train.jsonl"), None, None, labels, 100)
    frequencies = train.get_label_frequencies()
    weights = (torch.tensor([frequencies[label] for label in labels], dtype=torch.float) / len(train)) ** -1
    print(f"transformers loss weights finite: {bool(torch.isfinite(weights).all())}")


def check_mmbt(directory: str, data_dir: str) -> None:
    sys.path.insert(0, directory)
    sys.modules["pytorch_pretrained_bert"] = types.SimpleNamespace(BertTokenizer=None)
    from mmbt.data.dataset import JsonlDataset
    from mmbt.data.helpers import collate_fn, get_labels_and_frequencies
    from mmbt.data.vocab import Vocab

    labels, _ = get_labels_and_frequencies(os.path.join(data_dir, "train.jsonl"))
    args = types.SimpleNamespace(labels=labels, drop_img_percent=0.0, max_seq_len=64, model="mmbt",
                                 num_image_embeds=3, task="mmimdb", task_type="multilabel")
    vocab = Vocab()
    vocab.stoi = collections.defaultdict(lambda: 1, {"[UNK]": 1, "[SEP]": 2})
    for name in ("train", "dev", "test", "test_hard_gt"):
        path = os.path.join(data_dir, f"{name}.jsonl")
        if not os.path.exists(path):
            print(f"MMBT {name}: no file (export with --test-hard-ids)")
            continue
        dataset = JsonlDataset(path, str.split, _to_tensor, vocab, args)
        batch = collate_fn([dataset[i] for i in range(len(dataset))], args)
        print(f"MMBT {name}: {len(dataset)} samples, images {tuple(batch[3].shape)}, labels {int(batch[4].sum())}")


def check_mmf(directory: str, data_dir: str) -> None:
    root = os.path.join(directory, "mmf")

    class PathManager:
        open, exists, isfile = staticmethod(open), staticmethod(os.path.exists), staticmethod(os.path.isfile)

    modules = {name: types.ModuleType(name) for name in ("mmf", "mmf.utils", "mmf.utils.file_io", "mmf.utils.general",
                                                         "mmf.common", "mmf.common.registry", "mmf.datasets",
                                                         "mmf.datasets.databases")}
    modules["mmf"].__path__ = [root]
    modules["mmf.utils"].__path__ = [root + "/utils"]
    modules["mmf.datasets"].__path__ = [root + "/datasets"]
    modules["mmf.datasets.databases"].__path__ = [root + "/datasets/databases"]
    modules["mmf.utils.file_io"].PathManager = PathManager
    modules["mmf.utils.general"].get_absolute_path = lambda path: path
    modules["mmf.common.registry"].registry = types.SimpleNamespace(register_decoder=lambda name: (lambda cls: cls))
    sys.modules.update(modules)
    from mmf.datasets.databases.annotation_database import AnnotationDatabase
    from mmf.datasets.databases.image_database import ImageDatabase
    from mmf.utils.text import VocabDict, word_tokenize

    class BaseProcessor:
        def __init__(self, *args, **kwargs):
            pass

    class Processor:  # the config's answer preprocessor: simple_word
        def __init__(self, config, *args, **kwargs):
            pass

        def __call__(self, item):
            return {"text": word_tokenize(item["text"])}

    class Config(dict):
        __getattr__ = dict.__getitem__

    namespace = _classes(os.path.join(root, "datasets/processors/processors.py"),
                         ["VQAAnswerProcessor", "MultiHotAnswerFromVocabProcessor"],
                         {"BaseProcessor": BaseProcessor, "Processor": Processor, "VocabDict": VocabDict,
                          "torch": torch, "warnings": warnings})
    base = os.path.join(data_dir, "datasets/mmimdb/defaults")
    answers = namespace["MultiHotAnswerFromVocabProcessor"](Config(
        vocab_file=os.path.join(base, "extras/classes_mm_imdb.txt"), num_answers=1, preprocessor={"type": "simple_word"}))
    for split in ("train", "dev", "test"):
        annotations = AnnotationDatabase(Config(), os.path.join(base, f"annotations/{split}.jsonl"))
        images = ImageDatabase(Config(), os.path.join(base, "images/mmimdb/dataset/"), annotation_db=annotations)
        labels = 0
        for index in range(len(annotations)):
            images[index]["images"][0]
            labels += int(answers({"answers": annotations[index]["genres"]})["answers_scores"].sum())
        print(f"MMF {split}: {len(annotations)} samples, {answers.get_vocab_size()} classes, labels {labels}")


def check_vilt(directory: str, data_dir: str, tables: str, ratio: float, kind: str) -> None:
    package = types.ModuleType("vilt")
    package.__path__ = [os.path.join(directory, "vilt")]
    transforms = types.ModuleType("vilt.transforms")
    transforms.keys_to_transforms = lambda keys, size=224: [_to_tensor for _ in keys]
    datasets = types.ModuleType("vilt.datasets")
    datasets.__path__ = [os.path.join(directory, "vilt/datasets")]
    sys.modules.update({"vilt": package, "vilt.transforms": transforms, "vilt.datasets": datasets})
    from vilt.datasets.mmimdb_dataset import MMIMDBDataset

    for split in ("train", "val", "test"):
        info = {"simulate_missing": False, "ratio": {split: ratio}, "type": {split: kind}, "both_ratio": 0.5,
                "missing_table_root": tables}
        before = set(os.listdir(tables))
        dataset = MMIMDBDataset(data_dir, ["pixelbert"], 224, split=split, missing_info=info, max_text_len=40)
        assert set(os.listdir(tables)) == before, "the reader drew its own table: ours was not found"
        dataset.tokenizer = _Tokenizer()
        items = [dataset[i] for i in range(len(dataset))]
        kinds = collections.Counter(int(item["missing_type"]) for item in items)
        print(f"ViLT {split}: {len(dataset)} samples of {len(dataset.table)} movies, missing types {dict(kinds)}")


def check_multibench(directory: str, path: str) -> None:
    import h5py
    from torch.utils.data import DataLoader, Dataset

    namespace = _classes(os.path.join(directory, "datasets/imdb/get_data.py"), ["IMDBDataset"],
                         {"Dataset": Dataset, "h5py": h5py})
    with h5py.File(path, "r") as handle:
        ranges = json.loads(handle.attrs["split"])
    for split, (start, end) in ranges.items():
        count = 0
        for text, image, label in DataLoader(namespace["IMDBDataset"](path, start, end, False), batch_size=64):
            count += len(label)
        print(f"MultiBench {split}: {count} rows, text {tuple(text.shape[1:])}, image {tuple(image.shape[1:])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", required=True, type=Path)
    parser.add_argument("--transformers-mmimdb", help="folder holding transformers' utils_mmimdb.py")
    parser.add_argument("--mmbt", help="a checkout of facebookresearch/mmbt")
    parser.add_argument("--mmf", help="a checkout of facebookresearch/mmf")
    parser.add_argument("--vilt", help="a checkout of YiLunLee/missing_aware_prompts")
    parser.add_argument("--multibench", help="a checkout of pliang279/MultiBench")
    parser.add_argument("--missing", default="0.7:both:0", help="RATE:TYPE:SEED of the missing tables to read")
    args = parser.parse_args()
    _stub_torchvision()
    exports = args.root / "exports"
    if args.transformers_mmimdb:
        check_transformers(args.transformers_mmimdb, str(exports / "jsonl/mmimdb"))
    if args.mmbt:
        check_mmbt(args.mmbt, str(exports / "jsonl/mmimdb"))
    if args.mmf:
        check_mmf(args.mmf, str(exports / "mmf"))
    if args.vilt:
        rate, kind, seed = args.missing.split(":")
        check_vilt(args.vilt, str(exports / "arrow"), str(args.root / "missing" / f"seed-{seed}"), float(rate), kind)
    if args.multibench:
        check_multibench(args.multibench, str(exports / "hdf5/multimodal_imdb.hdf5"))


if __name__ == "__main__":
    main()
