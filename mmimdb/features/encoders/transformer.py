"""``bert`` / ``bert-cls``: a transformers encoder (BERT family) over each plot, mean-pooled
(``bert_features``) or its first token, [CLS] (``bert_cls_features``); 768-d for BERT-base.

The model is ``--bert-model`` (a folder written by ``save_pretrained``, holding the model and
its tokenizer, or a hub name), else ``$MMIMDB_BERT_MODEL``, else the hub's
``bert-base-uncased`` (downloaded into the Hugging Face cache when there is network). The
plot goes in as written, cut at the model's longest input (512 word pieces for BERT); the
mean is over the real tokens only (padding masked out).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from . import register_text_encoder
from .base import EncoderOptions, TextEncoder
from .pretrained import ModelSource, encode_in_batches, first_line, import_library, provenance, torch_device

DEFAULT_MODEL = "bert-base-uncased"
BERT = ModelSource("transformers", "--bert-model", "MMIMDB_BERT_MODEL", "save_pretrained (model and tokenizer)")
BATCH_SIZE = 16
#: Longest input when a tokenizer does not say (its model_max_length is then a huge sentinel).
MAX_TOKENS = 512


def pool(hidden: Any, mask: Any, pooling: str) -> Any:
    """(B, dim): the mean of the real tokens' last hidden states, or the first token's."""
    if pooling == "cls":
        return hidden[:, 0]
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1.0)


def load(options: EncoderOptions) -> tuple[Any, Any, Any, dict[str, Any]]:
    """(tokenizer, model in eval mode on its device, device, provenance)."""
    ref = BERT.choose(options.bert_model, DEFAULT_MODEL)
    local = ref.local_path()
    transformers = import_library("transformers", "transformers", "transformers")
    source = str(local) if local else ref.name
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(source)
        model = transformers.AutoModel.from_pretrained(source)
    except (OSError, ValueError, KeyError) as error:
        where = "could not be loaded" if local else "is not on this machine and could not be downloaded from the hub"
        raise BERT.missing(ref.name, f"{where} ({first_line(error)})") from None
    device = torch_device(options)
    return tokenizer, model.eval().to(device), device, provenance(ref, "transformers")


def _encoder(options: EncoderOptions, pooling: str, name: str, output: str) -> TextEncoder:
    import torch

    tokenizer, model, device, info = load(options)
    limits = [value for value in (tokenizer.model_max_length, getattr(model.config, "max_position_embeddings", None))
              if isinstance(value, int) and 0 < value <= 100_000]
    max_tokens = min(limits) if limits else MAX_TOKENS
    dim = int(model.config.hidden_size)
    info.update(pooling="mean of the last hidden states over real tokens" if pooling == "mean" else "first token ([CLS]) of the last layer",
                max_tokens=max_tokens,
                preprocessing=f"the longest plot as written; the model's tokenizer, cut at {max_tokens} tokens")

    def encode_batch(texts: list[str]) -> np.ndarray:
        batch = tokenizer(texts, padding=True, truncation=True, max_length=max_tokens, return_tensors="pt").to(device)
        with torch.inference_mode():
            hidden = model(**batch).last_hidden_state
        return pool(hidden, batch["attention_mask"], pooling).float().cpu().numpy()

    def encode(texts: Sequence[str]) -> np.ndarray:
        return encode_in_batches(texts, encode_batch, dim, BATCH_SIZE, output, options.progress)

    return TextEncoder(name=name, output=output, dim=dim, encode=encode, info=info, reads="text")


@register_text_encoder("bert", output="bert_features", summary="transformers BERT-family model, mean-pooled")
def bert(options: EncoderOptions) -> TextEncoder:
    """Mean-pooled last hidden states of a BERT-family model (``bert_features``)."""
    return _encoder(options, "mean", "bert", "bert_features")


@register_text_encoder("bert-cls", output="bert_cls_features", summary="the same model's [CLS] token")
def bert_cls(options: EncoderOptions) -> TextEncoder:
    """The [CLS] token's last hidden state of a BERT-family model (``bert_cls_features``)."""
    return _encoder(options, "cls", "bert-cls", "bert_cls_features")
