"""``mmimdb report``: one self-contained HTML page per data root (and benchmark run)."""
