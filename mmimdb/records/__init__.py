"""The records layer: what a movie record is, below every stage that reads or writes one.

The fetch writes records, the build reads them; both import this package and neither imports
the other. It holds the normalized record and its mapping to the release's IMDbPY keys
(:mod:`.record`), the records store in the release's layout (:mod:`.store`), the safe poster
decoder (:mod:`.posters`), the 23 genres (:mod:`.genres`) and the ``split.json`` format
(:mod:`.split_file`). It imports nothing from the stages (only :mod:`mmimdb.errors` and
:mod:`mmimdb.storage`).
"""
