from mmimdb.records.store import RecordStore


def test_greatest_films_fixture_holds_every_complete_film(greatest_films_root):
    store = RecordStore(greatest_films_root / "dataset")
    ids = store.ids()
    assert len(ids) == 1222
    record = store.read(ids[0])
    assert record["poster"]["file"] == ids[0][2:] + ".jpeg"
    assert record["genres"] and record["plot"]
