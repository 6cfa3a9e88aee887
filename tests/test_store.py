import hashlib
import io

from PIL import Image

from mmimdb.records.store import RecordStore


def test_greatest_films_fixture_holds_every_complete_film(greatest_films_root):
    store = RecordStore(greatest_films_root / "dataset")
    ids = store.ids()
    assert len(ids) == 1222
    record = store.read(ids[0])
    assert record["poster"]["file"] == ids[0][2:] + ".jpeg"
    assert record["genres"] and record["plot"]
    # what the record keeps of its checked poster: its digest and size
    poster = store.read_poster(ids[0])
    assert record["poster"]["sha256"] == hashlib.sha256(poster).hexdigest()
    assert (record["poster"]["width"], record["poster"]["height"]) == Image.open(io.BytesIO(poster)).size
    # every field came from the demo data, the poster too
    assert record["sources"]["title"] == record["sources"]["poster"] == "greatest-films"
    assert set(record["sources"].values()) == {"greatest-films"} and "imdb_id" not in record["sources"]
