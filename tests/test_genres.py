import numpy as np
import pytest

from mmimdb.records import genres


def test_vocabulary_is_the_original_23_in_frequency_order():
    assert len(genres.GENRES) == 23 and genres.GENRES[0] == "Drama" and genres.GENRES[-1] == "Film-Noir"
    counts = [genres.ORIGINAL_COUNTS[name] for name in genres.GENRES]
    assert counts == sorted(counts, reverse=True) and sum(counts) / 25959 == pytest.approx(2.48, abs=0.01)
    assert not set(genres.DROPPED_GENRES) & set(genres.GENRES)


def test_encode_decode_round_trip_ignores_non_labels_and_fixes_spelling():
    vector = genres.encode(["sci-fi", "Drama", "News", "film noir", "Drama"])
    assert vector.dtype == np.int32 and vector.sum() == 3
    assert genres.decode(vector) == ["Drama", "Sci-Fi", "Film-Noir"]
    matrix = genres.encode_many([["Comedy"], [], ["Western", "Short"]])
    assert matrix.shape == (3, 23) and matrix.sum(axis=1).tolist() == [1, 0, 2]
    assert genres.encode_many([]).shape == (0, 23)
    assert genres.decode(np.full(23, 0.4)) == []


def test_decode_rejects_a_vector_of_the_wrong_length():
    with pytest.raises(ValueError, match="23 genres"):
        genres.decode([1, 0])
