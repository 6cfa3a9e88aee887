"""Mistakes that used to end in a traceback end in one line and an exit code: images too small
for CNN_end2end, a wrong ``register(modality=...)``, a plugin with a syntax error, a
manifest.json of the wrong shape wherever it is read."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from mmimdb import paths
from mmimdb.errors import MmimdbError, UsageError
from mmimdb.storage import manifest
from mmimdb_cli.main import cli


def test_images_too_small_for_the_cnn_are_a_usage_error():
    pytest.importorskip("torch")
    from mmimdb.benchmark.data import Split
    from mmimdb.benchmark.models import registry

    rng = np.random.default_rng(0)
    small = Split("train", {"images": rng.integers(-100, 100, (8, 3, 20, 16)).astype(np.int16)},
                  rng.integers(0, 2, (8, 23)).astype(np.float32), [f"tt{9000000 + i}" for i in range(8)])
    model = registry.get("CNN_end2end").create(epochs=1, device="cpu")
    with pytest.raises(UsageError, match=r"^CNN_end2end: images of 3 x 20 x 16 are too small for its 5 2x2 poolings \(at least 32 x 32 pixels\)"):
        model.fit(small, small)


def _plugin_list(tmp_path, source: str):
    plugin = tmp_path / "plugin.py"
    plugin.write_text(source)
    return CliRunner().invoke(cli, ["benchmark", "--plugin", str(plugin), "--list"])


def test_a_wrong_modality_is_one_line(tmp_path):
    pytest.importorskip("torch")
    result = _plugin_list(tmp_path, "from mmimdb.benchmark.models.registry import register\n"
                                    "@register('Mine', inputs=('features',), modality='Vision')\n"
                                    "class Mine:\n    pass\n")
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert result.output.strip() == ("error: register('Mine'): modality must be one of Multimodal, Text, Visual, "
                                     "Reference, not 'Vision'")


def test_a_plugin_with_a_syntax_error_is_one_line(tmp_path):
    pytest.importorskip("torch")
    result = _plugin_list(tmp_path, "def broken(:\n    pass\n")
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert result.output.strip() == f"error: --plugin {tmp_path / 'plugin.py'}: syntax error at line 1, column 12: invalid syntax"
    missing = _plugin_list(tmp_path, "import a_package_that_is_not_installed\n")
    assert missing.exit_code == 2 and "No module named 'a_package_that_is_not_installed'" in missing.output


@pytest.mark.parametrize("content", [
    {"outputs": {"parquet/train.parquet": 5}},
    {"outputs": ["parquet/train.parquet"]},
    {"outputs": {}, "features": {"word_grams": "written"}},
    {"features": []},
    {"outputs": {}, "split": "iterative"},
    {"card": {".": 3}},
])
def test_a_manifest_of_the_wrong_shape_is_one_line_for_every_reader(tmp_path, content):
    paths.manifest_path(tmp_path).write_text(json.dumps(content))
    for read in (manifest.read_manifest, manifest.feature_entries, manifest.verify,
                 lambda root: manifest.update(root, features={"x": {}})):
        with pytest.raises(MmimdbError, match=r"manifest.json: not a readable manifest \('(outputs|features|split|card)' is not an object( of objects)?\)"):
            read(tmp_path)
    result = CliRunner().invoke(cli, ["info", "--root", str(tmp_path), "--verify"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert result.output.strip().splitlines()[-1].startswith("error: ") and "not a readable manifest" in result.output
