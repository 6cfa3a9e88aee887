"""Published results (benchmark/published.py): each has a source, a protocol we have, scores
in range; table2.md puts one beside ours only where protocol, features and model match."""
from __future__ import annotations

from mmimdb.benchmark import reports
from mmimdb.benchmark.published import PUBLISHED, Published, comparable
from mmimdb.protocols import PRESETS
from test_reports import _results


def test_every_published_result_names_its_source_protocol_and_scores():
    assert len({(r.model, r.source) for r in PUBLISHED}) == len(PUBLISHED)
    for result in PUBLISHED:
        assert result.source and result.encoders and result.protocol in PRESETS
        assert result.f1 and all(0 < value < 1 for value in result.f1.values())
    multibench_lf = next(r for r in PUBLISHED if r.model == "MultiBench LF")
    assert multibench_lf.f1 == {"micro": 0.5878, "macro": 0.4921}


def test_a_published_row_is_beside_ours_only_for_the_same_data_features_and_model():
    same = Published("GMU elsewhere", "a paper", "multibench", "word2vec + VGG16", {"macro": 0.5}, ours="GMU")
    assert comparable(same, "paper", True, {"GMU"}) == (True, "")
    assert comparable(same, "paper", False, {"GMU"})[1] == "our features are not the paper's"
    assert comparable(same, "mmbt", True, {"GMU"})[1] == "its data is the multibench protocol's, ours is the mmbt protocol's"
    assert comparable(same, "paper", True, {"Concatenate"})[1] == "none of our models is its architecture"


def test_table2_lists_the_other_published_results_and_why_they_are_not_beside_ours():
    table = reports.table2_markdown(_results(True, True))
    assert ("| MultiBench LF | multibench | word2vec GoogleNews mean (features) + VGG16 fc7 (vgg_features) | 0.588 | "
            "0.492 | no: none of our models is its architecture |") in table
    assert "| MMBT | mmbt | BERT-base text + ResNet-152 image, fine-tuned | – | 0.616 | no: its data is the mmbt " \
           "protocol's, ours is the paper protocol's |" in table
    other_split = reports.table2_markdown(_results(False, True))
    assert "| MultiBench LF | multibench |" in other_split and "ours is the another split protocol's" in other_split
