"""Published MM-IMDb results, each with the source it was read in, the protocol its data was
prepared by (:mod:`mmimdb.protocols`), its encoders and its test F1 scores.

Only numbers read in a source are here: the paper's Table 2 (:mod:`.paper`, the one place it
lives), MultiBench's reported numbers (its ``eval_scripts/robustness.py``, micro and macro in
per cent), and MMBT's macro-F1 as the project's reference sheet records it. ``table2.md``
shows a published number beside ours only where the protocol, the features and the model
are the same (:func:`comparable`), and says why not otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .paper import TABLE2

#: The paper's features: the HDF5's ``features`` (word2vec mean) and ``vgg_features``.
PAPER_ENCODERS = "word2vec GoogleNews mean (features) + VGG16 fc7 (vgg_features)"
_MULTIBENCH_SOURCE = ("pliang279/MultiBench eval_scripts/robustness.py @49f9be2 (performance[...]['imdb ...']); "
                      "inputs from examples/multimedia/mmimdb_*.py: the HDF5 with vgg=True")


@dataclass(frozen=True)
class Published:
    """One published result on the test split."""

    model: str
    source: str
    protocol: str
    encoders: str
    #: F1 by average (weighted, samples, micro, macro), the ones the source gives.
    f1: dict[str, float] = field(default_factory=dict)
    #: Our model of the same architecture, when there is one (the paper's own models).
    ours: str | None = None
    #: Why a reader should take the number with care, when there is a reason.
    caveat: str | None = None


def _paper() -> list[Published]:
    return [Published(name, "Arevalo et al. 2017, Table 2 (mmimdb/benchmark/paper.py)", "paper", PAPER_ENCODERS,
                      dict(zip(("weighted", "samples", "micro", "macro"), values[1:])), ours=name)
            for name, values in TABLE2.items()]


def _multibench(model: str, micro: float, macro: float, inputs: str = PAPER_ENCODERS, ours: str | None = None) -> Published:
    return Published(f"MultiBench {model}", _MULTIBENCH_SOURCE, "multibench", inputs,
                     {"micro": round(micro / 100, 4), "macro": round(macro / 100, 4)}, ours=ours)


PUBLISHED: tuple[Published, ...] = (
    *_paper(),
    _multibench("LF", 58.78, 49.21, ours="MultiBench_LF"),
    _multibench("EF", 58.86, 49.79, ours="MultiBench_EF"),
    _multibench("LRTF", 59.2, 49.2, ours="MultiBench_LRTF"),
    _multibench("MI", 58.3, 48.0),
    _multibench("MFM", 38.4, 22.3),
    _multibench("CCA", 59.33, 50.21),
    _multibench("ReFNet", 51.17, 36.51),
    _multibench("RMFE", 58.64, 47.10),
    _multibench("best unimodal (text)", 58.56, 45.59, "word2vec GoogleNews mean (features)"),
    _multibench("best unimodal (image)", 40.12, 25.31, "VGG16 fc7 (vgg_features)"),
    Published("MMBT", "Kiela et al. 2019 (arXiv 1909.02950), as ../shared/REFERENCE.md records it", "mmbt",
              "BERT-base text + ResNet-152 image, fine-tuned", {"macro": 0.616},
              caveat="read in the project's reference sheet, not in the paper's table"),
)


#: Protocols whose data is the same rows, texts and labels (MultiBench reads the paper's HDF5).
SAME_DATA: dict[str, frozenset[str]] = {"paper": frozenset({"paper", "multibench"}),
                                        "multibench": frozenset({"paper", "multibench"})}


def comparable(result: Published, protocol: str, paper_features: bool, models: set[str]) -> tuple[bool, str]:
    """Whether ``result`` belongs beside our run (its data prepared by ``protocol``, on the
    paper's features or not, with our ``models``), and the reason when it does not."""
    if result.protocol not in SAME_DATA.get(protocol, frozenset({protocol})):
        return False, f"its data is the {result.protocol} protocol's, ours is the {protocol} protocol's"
    if not paper_features:
        return False, "our features are not the paper's"
    if result.ours is None or result.ours not in models:
        return False, "none of our models is its architecture"
    return True, ""
