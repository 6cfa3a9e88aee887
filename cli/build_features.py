"""``mmimdb build-features``: the paper's text and poster features for a built dataset."""
from __future__ import annotations

import click

from .options import root_option


def _names(values: tuple[str, ...]) -> list[str]:
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


@click.command("build-features")
@click.option("--text", "text", multiple=True, default=("word2vec",), show_default=True,
              help="Text encoder(s): word2vec (GoogleNews, the paper's), glove-50 (offline). Repeat or comma-separate.")
@click.option("--image", "image", multiple=True, default=("vgg16",), show_default=True,
              help="Image encoder(s): vgg16 (the paper's fc7), efficientnet-lite0 (offline). Repeat or comma-separate.")
@click.option("--word2vec", "word2vec", type=click.Path(dir_okay=False), default=None,
              help="GoogleNews-vectors-negative300.bin[.gz] (else $MMIMDB_WORD2VEC).")
@click.option("--word2vec-limit", type=click.IntRange(min=1), default=None,
              help="Read only the first N vectors of the word2vec file (less memory).")
@click.option("--vgg16-weights", type=click.Path(dir_okay=False), default=None,
              help="torchvision's vgg16-397923af.pth (else $MMIMDB_VGG16_WEIGHTS, else the torch hub cache).")
@click.option("--preprocessing", type=click.Choice(["imagenet", "original"]), default="imagenet", show_default=True,
              help="Poster preprocessing: torchvision's (resize 256, crop 224) or the paper's 160:256 poster crop.")
@click.option("--image-size", type=click.IntRange(min=32), default=None,
              help="Model input size in pixels (default 224; smaller is faster and less accurate).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda", "mps"]), default="auto", show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=None,
              help="Posters per forward pass (default: 64 on a GPU; on the CPU the fastest of 1, 4, 16, 64, timed at start).")
@click.option("--workers", type=click.IntRange(min=0), default=None, help="Poster-decoding workers (default: cores - 1).")
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
def build_features(text, image, word2vec, word2vec_limit, vgg16_weights, preprocessing, image_size, device, batch_size, workers,
                   chunk_rows, only, force, ray, no_progress, root) -> None:
    """Word vectors, poster CNN features, TF-IDF and token sequences, added to the HDF5 and Parquet.

    The paper's encoders need the user's files: --word2vec GoogleNews-vectors-negative300.bin
    and --vgg16-weights vgg16-397923af.pth. Offline alternatives: --text glove-50
    --image efficientnet-lite0. Interrupted runs resume from the last finished chunk.
    """
    from mmimdb.features.encoders import EncoderOptions
    from mmimdb.features import build_features as build

    options = EncoderOptions(word2vec=word2vec, word2vec_limit=word2vec_limit, vgg16_weights=vgg16_weights,
                             preprocessing=preprocessing, image_size=image_size)
    built = build(root, text=_names(text), image=_names(image), only=_names(only) or None, options=options,
                  device=device, batch_size=batch_size, workers=workers, chunk_rows=chunk_rows, force=force,
                  progress=not no_progress, ray=ray)
    for name, entry in built.items():
        click.echo(f"{name}\t{'x'.join('var' if d is None else str(d) for d in entry['dims'])}\t{entry['encoder']}")
