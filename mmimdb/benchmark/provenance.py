"""What a benchmark's numbers were made with: the features behind each input, the split, and
whether they are the paper's (only then do the paper's numbers belong beside ours).

Facts come from the files, not from names: each feature dataset's HDF5 attributes (what
``mmimdb build-features`` recorded: encoder, weights file, dimension) and the manifest beside
the HDF5 (what ``mmimdb build`` recorded: split method and seed).

>>> facts = describe_features(data, ("features",))          # doctest: +SKIP
>>> facts["features"]["tag"], facts["features"]["paper"]     # doctest: +SKIP
('glove-50 50-d', False)
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from ..dataset import hdf5
from ..dataset.built import BuiltDataset
from ..errors import MmimdbError
from ..features.encoders.downloads import GOOGLE_NEWS_WORD2VEC, VGG16_IMAGENET
from ..generated import SOURCE as GENERATED_SOURCE

#: The command-line option that points each model input at another HDF5 dataset.
INPUT_OPTIONS: dict[str, str] = {hdf5.TEXT_FEATURES: "--text-features", hdf5.IMAGE_FEATURES: "--image-features"}
#: What each of those inputs is, in words.
INPUT_ROLES: dict[str, str] = {hdf5.TEXT_FEATURES: "text vector", hdf5.IMAGE_FEATURES: "image vector"}
#: The build-features encoder that writes each input the paper's way.
PAPER_ENCODER_OPTIONS: dict[str, str] = {hdf5.TEXT_FEATURES: "--text word2vec", hdf5.IMAGE_FEATURES: "--image vgg16"}



def _google_news(attrs: dict[str, Any]) -> bool:
    """The GoogleNews vectors (by Google's file name or gensim-data's), every word of them."""
    name = Path(str(attrs.get("file", ""))).name
    return ((name.startswith("GoogleNews-vectors-negative300") or name == GOOGLE_NEWS_WORD2VEC.file_name)
            and attrs.get("limit") is None)


def _imagenet_vgg16(attrs: dict[str, Any]) -> bool:
    """torchvision's ImageNet VGG16 weights, by their published sha256."""
    return str(attrs.get("sha256", "")) == VGG16_IMAGENET.checksum.value


#: The paper's pretrained encoders by input: encoder name, dimension, and a check of what
#: build-features recorded about the weights.
_PAPER_ENCODERS: dict[str, tuple[str, int, Any]] = {
    "features": ("word2vec", 300, _google_news),
    hdf5.EMBEDDINGS: ("word2vec", 300, _google_news),
    hdf5.IMAGE_FEATURES: ("vgg16", 4096, _imagenet_vgg16),
}
#: Inputs built by the paper's procedure with no pretrained encoder (posters, TF-IDF, token ids).
_PROCEDURE_INPUTS = (hdf5.IMAGES, hdf5.THREE_GRAMS, hdf5.WORD_GRAMS, hdf5.SEQUENCES)
#: What the paper's encoders are, in words, for reports.
PAPER_FEATURES = "word2vec 300-d (GoogleNews) mean, VGG16 fc7 4096-d (ImageNet weights)"


def _attribute(value: Any) -> Any:
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, str) and (value[:1] in ("[", "{") or value in ("null", "true", "false")):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _dataset_facts(data: Any, name: str) -> dict[str, Any]:
    """What the writer recorded on dataset ``name`` of ``data`` (a BuiltDataset)."""
    attrs = {key: _attribute(value) for key, value in data.attrs(name).items()}
    return {"dataset": name, "shape": list(data.shape(name)), "encoder": attrs.get("encoder"),
            "modality": attrs.get("modality"), "file": Path(str(attrs["file"])).name if attrs.get("file") else None,
            "attrs": attrs}


def _tag(facts: dict[str, Any]) -> str:
    """A short name of a feature for row labels: encoder and dimension."""
    encoder = facts["encoder"]
    dim = facts["shape"][1] if len(facts["shape"]) == 2 else None
    if facts["dataset"] == hdf5.IMAGES and len(facts["shape"]) == 4:
        return "posters {}x{}x{}".format(*facts["shape"][1:])
    if encoder == "tfidf":
        name = f"{facts['dataset']} TF-IDF"
    elif encoder is None:
        return f"{facts['dataset']}" + (f" {dim}-d" if dim else "") + ", encoder not recorded"
    else:
        name = str(encoder)
    return f"{name} {dim}-d" if dim else name


def _paper_verdict(name: str, facts: dict[str, Any], original_release: bool) -> tuple[bool, str]:
    """Whether input ``name`` holds the paper's feature, and if not, why not."""
    if name in _PROCEDURE_INPUTS:
        return True, "built by the paper's procedure"
    if name not in _PAPER_ENCODERS:
        return False, "not one of the paper's inputs"
    encoder, dim, check = _PAPER_ENCODERS[name]
    shape = facts["shape"]
    if facts["encoder"] is None:
        # The original release's HDF5 records no encoders: its own datasets, by their
        # original names and sizes, in a file with the original split, are the paper's.
        if original_release and facts["dataset"] == name and shape[-1] == dim:
            return True, "the original release's dataset"
        return False, "no encoder recorded in the HDF5"
    if facts["encoder"] != encoder or shape[-1] != dim:
        return False, f"{facts['encoder']} {shape[-1]}-d, not {encoder} {dim}-d"
    if not check(facts["attrs"]):
        return False, f"{encoder} {dim}-d but not from the paper's pretrained file"
    return True, f"{encoder} {dim}-d"


def describe_features(data: Any, inputs: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Per model input: the dataset that served it, its encoder, shape, a short ``tag`` and
    whether it is the paper's feature (``paper``, with ``why``)."""
    original_release = data.is_original_split()
    out: dict[str, dict[str, Any]] = {}
    stored_names = set(data.data.datasets())
    for name in inputs:
        stored = data.stored_name(name)
        if stored not in stored_names:
            continue
        facts = _dataset_facts(data.data, stored)
        paper, why = _paper_verdict(name, facts, original_release)
        facts.pop("attrs")
        out[name] = {**facts, "tag": _tag(facts), "paper": paper, "why": why}
    return out


def describe_split(data: Any) -> dict[str, Any]:
    """The split: method and seed (from the manifest beside the HDF5), sizes, original or not."""
    sizes = {name: b - a for name, (a, b) in data.rows.items()}
    original = data.is_original_split()
    method: Any = "the original release's" if original else "unknown (no manifest of `mmimdb build` beside the file)"
    seed = None
    try:
        manifest = data.data.manifest
    except MmimdbError:
        manifest = {}
    sources: dict[str, int] = {}
    if hdf5.FILE_NAME in manifest.get("outputs", {}) and "split" in manifest:
        method, seed = manifest["split"].get("method", method), manifest["split"].get("seed")
        sources = manifest.get("record_sources") or {}
    return {"method": method, "seed": seed, "sizes": sizes, "original": original,
            "generated": bool(sources) and set(sources) <= {GENERATED_SOURCE}}


def model_label(spec: Any, features: dict[str, dict[str, Any]]) -> str:
    """The name a report gives model ``spec``: its Table 2 name when its features are the
    paper's (or when the name says which datasets it reads, as ``Probe_clip_image_features``
    does), else its family and the features it read (e.g. ``MaxoutMLP on glove-50 50-d``)."""
    used = [name for name in spec.inputs + spec.shared if name in features]
    if all(features[name]["paper"] or features[name]["dataset"] in spec.name for name in used):
        return spec.name
    return f"{spec.family} on {' + '.join(features[name]['tag'] for name in used)}"


def features_line(features: dict[str, dict[str, Any]], markdown: bool = True) -> str:
    """One sentence that names every input's features, for tables (``markdown``) and plots."""
    quote = "`" if markdown else ""
    parts = []
    for name, facts in features.items():
        served = f"{quote}{facts['dataset']}{quote}" + (f" for {quote}{name}{quote}" if facts["dataset"] != name else "")
        parts.append(f"{served}: {facts['tag']}" + (f" ({facts['file']})" if facts.get("file") else ""))
    return "Features: " + ("; ".join(parts) if parts else "none") + "."


def split_line(split: dict[str, Any]) -> str:
    sizes = split["sizes"]
    seed = f", seed {json.dumps(split['seed'])}" if split.get("seed") is not None else ""
    movies = " Movies: generated films, not real (the offline demo): these numbers say nothing about MM-IMDb." \
        if split.get("generated") else ""
    return (f"Split: {split['method']}{seed}; train {sizes.get('train')}, dev {sizes.get('dev')}, "
            f"test {sizes.get('test')}.{movies}")


def missing_inputs_hint(data: Any, missing: list[str]) -> str:
    """For inputs the HDF5 lacks: the feature datasets it has that could serve them, and the
    options that use them; else the command that builds them."""
    candidates: dict[str, list[str]] = {}
    for stored in data.data.vector_names():  # per-movie feature vectors, never labels or a vocabulary
        facts = _dataset_facts(data.data, stored)
        role = {"text": hdf5.TEXT_FEATURES, "image": hdf5.IMAGE_FEATURES}.get(str(facts["modality"]))
        if role and facts["encoder"] not in ("tfidf", "token ids") and stored != role:
            candidates.setdefault(role, []).append(f"{stored} ({_tag(facts)})")
    hints = []
    for name in missing:
        if name in INPUT_OPTIONS and candidates.get(name):
            options = " or ".join(f"`{INPUT_OPTIONS[name]} {c.split(' ')[0]}`" for c in candidates[name])
            hints.append(f"the {INPUT_ROLES[name]} can come from {', '.join(candidates[name])}: pass {options}")
    build = [PAPER_ENCODER_OPTIONS[name] for name in missing if name in PAPER_ENCODER_OPTIONS]
    command = data.build_command(missing[0])
    if build and command == "mmimdb build-features":
        command += " " + " ".join(build)
    lead = f"the dataset has no {', '.join(repr(m) for m in missing)}"
    if hints:
        return f"{lead}; {'; '.join(hints)} (or run `{command}`)"
    return f"{lead} (run `{command}`)"


def built_digest(hdf5_path: Path) -> str | None:
    """The sha256 the manifest beside ``hdf5_path`` records for it (what ``mmimdb build`` and
    ``build-features`` last wrote), or None when no manifest lists it."""
    try:
        entry = BuiltDataset.from_hdf5(hdf5_path).manifest.get("outputs", {}).get(hdf5_path.name) or {}
    except MmimdbError:
        return None
    return entry.get("sha256") if isinstance(entry, dict) else None


def stale_results(results_file: Path, hdf5_path: Path) -> str | None:
    """Why the benchmark results in ``results_file`` are not of the data now in ``hdf5_path``
    (rebuilt or given new features since), in words; None when they are, or cannot be told."""
    try:
        recorded = json.loads(results_file.read_text("utf-8")).get("dataset", {})
    except (OSError, ValueError, AttributeError):
        return None
    now = built_digest(hdf5_path)
    if not isinstance(recorded, dict) or now is None:
        return None
    if recorded.get("hdf5_sha256") is None:
        return f"{results_file} does not say which build of the data it is of (written before mmimdb recorded it)"
    if recorded["hdf5_sha256"] != now:
        return f"{results_file} is of an earlier build of the data: {hdf5_path} changed since (rebuilt or new features)"
    return None
