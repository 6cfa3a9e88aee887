"""What the card says, written once for both the README card and ``croissant.json``.

Facts about the original release come from the paper (Arevalo et al. 2017) and its code; facts
about this build come from the files (:mod:`.stats`) and the build's manifest.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..records.genres import DROPPED_GENRES, GENRES
from ..records.split_file import SPLITS
from .stats import SOURCE_FIELDS, DatasetStats, summary

PROJECT_URL = "https://github.com/mmimdb/mmimdb"
PAPER_URL = "https://arxiv.org/abs/1702.01992"
#: The paper's first arXiv version.
PAPER_DATE = "2017-02-07"
AUTHORS = ("John Arevalo", "Thamar Solorio", "Manuel Montes-y-Gómez", "Fabio A. González")
CITATION = ("@inproceedings{arevalo2017gated, title={Gated Multimodal Units for Information Fusion}, "
            "author={Arevalo, John and Solorio, Thamar and Montes-y-G{\\'o}mez, Manuel and Gonz{\\'a}lez, Fabio A.}, "
            "booktitle={ICLR Workshop}, year={2017}, url={https://arxiv.org/abs/1702.01992}}")
#: The terms that govern the data (none allows redistribution), by what they cover.
LICENSES: dict[str, str] = {
    "IMDb data and posters (IMDb conditions of use)": "https://www.imdb.com/conditions",
    "IMDb non-commercial datasets": "https://developer.imdb.com/non-commercial-datasets/",
    "MovieLens ids (GroupLens terms)": "https://files.grouplens.org/datasets/movielens/ml-20m-README.html",
}
_SOURCE_NAMES = {
    "archive": "the original MM-IMDb release (IMDb pages crawled with IMDbPY in 2016)",
    "omdb": "OMDb API", "tmdb": "TMDb API", "imdb-datasets": "IMDb's non-commercial TSV files (cinemagoer)",
    "imdb-web": "saved IMDb title pages", "greatest-films": "a public 'greatest films' list (OMDb-style values, "
    "IMDb posters)", "generated": "generated films (not real)",
    "not recorded": "the original release as imported (no per-field source recorded)",
}
#: Where the demo's films come from, for the card (the repository and commit of mmimdb/demo.py).
GREATEST_FILMS = ("the 'greatest films' list of the public repository github.com/{repository} (commit {commit}): "
                  "films of critics' lists (AFI 1998 and 2007, WGA 2005, Sight & Sound 2012, the Guardian, 1001 Movies "
                  "You Must See), with OMDb-style values (OMDb's short plot, at most 3 genres) and IMDb posters; not the "
                  "MovieLens movies of MM-IMDb")
GENERATED = ("generated films (mmimdb.generated): not real films; titles, plots and posters were made up, with genre "
             "signal planted on purpose, so that the pipeline can be tried offline; their numbers say nothing about "
             "MM-IMDb")


def record_sources(stats: DatasetStats) -> set[str]:
    """Every source that gave a field of a record of this build."""
    return {source for name in SOURCE_FIELDS for source in (stats.sources.get(name) or {})}


def provenance(stats: DatasetStats) -> str | None:
    """Where the records come from, when that is not MM-IMDb's story (MovieLens ids, IMDb pages):
    the demo's greatest films or generated films; None otherwise."""
    from ..demo import COMMIT, REPOSITORY, SOURCE

    sources = record_sources(stats)
    if sources and sources <= {"generated"}:
        return GENERATED
    if sources and sources <= {SOURCE}:
        return GREATEST_FILMS.format(repository=REPOSITORY, commit=COMMIT[:7])
    return None


def _split_method(build: dict[str, Any]) -> str:
    split = build.get("split") or {}
    method = split.get("method", "unknown")
    detail = {"original": "the original release's procedure (rarest genre first, 60/10/30, "
                          "numpy RandomState seed {seed})",
              "iterative": "multilabel iterative stratification 60/10/30 (seed {seed})",
              "file": "a given split file ({file})"}.get(method, method)
    return detail.format(seed=split.get("seed"), file=split.get("split_file"))


def description(stats: DatasetStats, build: dict[str, Any]) -> str:
    facts = summary(stats)
    movies = facts["movies"]
    return (f"MM-IMDb (Arevalo et al. 2017, 'Gated Multimodal Units for Information Fusion'): movies with their plot, "
            f"poster and genres, for multi-label genre classification from text and image ({len(GENRES)} genres). "
            f"This build: {movies['total']} movies, train {movies['train']} / dev {movies['dev']} / test {movies['test']}, "
            f"split by {_split_method(build)}; built with mmimdb, which rebuilds the dataset from its sources "
            "(the data itself may not be redistributed)."
            + (f" The movies of this build are {provenance(stats)}." if provenance(stats) else ""))


def sources_sentence(stats: DatasetStats) -> str:
    parts = []
    for name in SOURCE_FIELDS:
        counts = stats.sources.get(name) or {}
        if counts:
            given = ", ".join(f"{_SOURCE_NAMES.get(source, source)} ({count})" for source, count in counts.most_common())
            parts.append(f"{name}: {given}")
    return "; ".join(parts) if parts else "not recorded (no records store next to the build)"


def collection(stats: DatasetStats, build: dict[str, Any]) -> str:
    when = (f" Records of this build were written between {stats.records_written[0]} and {stats.records_written[1]}."
            if stats.records_written else "")
    if provenance(stats):
        return (f"The movies of this build are {provenance(stats)}. The sources of this build, per field: "
                f"{sources_sentence(stats)}.{when}")
    return ("The movie list is MovieLens 20M's links.csv (IMDb ids of the movies MovieLens users rated). The original "
            "release crawled each movie's IMDb page with IMDbPY in 2016 and kept the movies with genres, a plot and a "
            "poster (25,959 of 27,278). mmimdb rebuilds records from sources that work today; the sources of this "
            f"build, per field: {sources_sentence(stats)}.{when}")


def missing_data(build: dict[str, Any]) -> str:
    counts = build.get("counts") or {}
    return ("A movie enters only with genres, a non-empty plot, a poster that decodes and at least one of the 23 genres "
            "(the paper's rule; in 2016, 1,319 of ml-20m's 27,278 movies had no poster). In this build "
            f"{counts.get('excluded', 'an unknown number of')} records were left out, each with its reason in "
            "split-report.json; no value is imputed (absent fields stay empty).")


def preprocessing() -> list[str]:
    return [
        "Text: the Parquet 'plot' column is the longest plot summary of the movie (what the paper used), without "
        "IMDbPY's '::author' suffix; 'plot_outline' is the one-paragraph outline. Text is not tokenized in Parquet.",
        f"Labels: the {len(GENRES)} most frequent genres of the original crawl, as a multi-hot vector in frequency "
        f"order; {', '.join(DROPPED_GENRES)} are dropped, as in the original release.",
        "Images: Parquet keeps the poster file's bytes; the HDF5 'images' are the poster centre-cropped to 160:256, "
        "resized to 160x256 (Lanczos), BGR minus the Caffe means, channels first, int32 (the original's layout).",
        "Split: 60/10/30 train/dev/test; the method and seed are in manifest.json and split-report.json.",
    ]


def annotation() -> str:
    return ("No annotation by this project: genres are IMDb's (assigned on IMDb title pages by IMDb and its "
            "contributors). Plots were written by IMDb users and editors.")


def uses() -> list[str]:
    return ["Multi-label movie genre classification from plot and poster (the paper's Table 2).",
            "Benchmarking multimodal fusion (GMU and baselines) and missing-modality robustness "
            "(`mmimdb missing`, `mmimdb benchmark --missing-rate`).",
            "Not for commercial use (IMDb and MovieLens terms), and not for inferring anything about the people "
            "named in credits."]


def biases(facts: dict[str, Any], stats: DatasetStats | None = None) -> list[str]:
    years = facts.get("years")
    sources = record_sources(stats) if stats is not None else set()
    who = ("Movies are generated, not real: no bias of real films applies, only how they were generated."
           if sources and sources <= {"generated"} else
           "Movies are critics' 'greatest films' (mostly US and European, many before 1980), not MovieLens's."
           if sources and sources <= {"greatest-films"} else
           "Movies are those rated by MovieLens users (mostly US, English-language, popular titles).")
    return [
        who,
        "Genres are highly imbalanced (in the original release Drama labels 13,967 movies, Film-Noir 338).",
        "IMDb's bulk files and OMDb give at most 3 genres a title; the original scraped pages gave 2.48 on average, "
        f"this build {facts['labels_per_movie']}: rebuilt labels are sparser than the original's.",
        "Posters are marketing images; their style follows era and genre conventions, which models may learn "
        "instead of content." + (f" Release years here span {years[0]}-{years[1]}." if years else ""),
    ]


def limitations() -> list[str]:
    return ["Scores on different splits are not comparable: report the split method and seed (manifest.json).",
            "Genres are IMDb's labels, not ground truth about content; plots vary in length and quality.",
            "The files may not be redistributed: each user rebuilds the dataset with mmimdb from the sources."]


def social_impact() -> str:
    return ("Low direct risk: public movie metadata. Posters are copyrighted works, used here for research under the "
            "sources' terms; models trained on them may reproduce genre stereotypes of film marketing.")


def personal_information() -> str:
    return ("Names of cast and crew (public credits) are in the directors, writers and cast columns. Plot authors' "
            "names (IMDbPY's '::author' suffix) are removed from the plot text. No user data.")


def maintenance() -> str:
    return ("The original release (2017) is frozen. mmimdb is maintained at " + PROJECT_URL + ": rebuild with a new "
            "version to pick up fixes; a build's manifest.json records the versions and checksums of every file.")


def label_share_sentence(stats: DatasetStats) -> str:
    counts = stats.genre_counts()
    totals = {genre: sum(counts[genre][split] for split in SPLITS) for genre in GENRES}
    present = {genre: total for genre, total in totals.items() if total}
    if not present:
        return ""
    top, bottom = max(present, key=present.get), min(present, key=present.get)
    share = lambda genre: 100 * present[genre] / max(1, stats.total)
    return (f"The most frequent genre is {top} ({present[top]} movies, {share(top):.1f}%), the rarest {bottom} "
            f"({present[bottom]}, {share(bottom):.1f}%); {int(np.sum(stats.all_labels().sum(axis=1) == 1))} movies "
            "have a single genre.")
