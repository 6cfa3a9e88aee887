"""The original MM-IMDb plot tokenizer.

The paper's text pipeline (as the release's code runs it): take the longest plot, lowercase it, drop
``<br />``, replace URLs by a token, remove the characters ``~*+^`_#[]|``, replace digit
runs by a token, split punctuation off as tokens of their own, split on whitespace.

>>> tokenize("The <br />2 Towers: see http://x.org, NOW!")
['the', 'N', 'towers', ':', 'see', 'URL', ',', 'now', '!']
"""
from __future__ import annotations

import re

#: Token that replaces a URL. Upper case, so it cannot collide with a lowercased word.
URL_TOKEN = "URL"
#: Token that replaces a run of digits.
NUMBER_TOKEN = "N"

_BREAK = re.compile(r"<br\s*/?>")
# A URL ends before trailing punctuation ("see http://x.org, then" keeps the comma).
_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"]*[^\s<>\".,;:!?)']")
_REMOVED = re.compile(r"[~*+^`_#\[\]|]")
_DIGITS = re.compile(r"[0-9]+")
# Everything that is neither a word character nor whitespace is punctuation; apostrophes
# inside words ("don't") stay in the word, as in the original.
_PUNCTUATION = re.compile(r"([^\w\s']|(?<!\w)'|'(?!\w))")


def tokenize(text: str) -> list[str]:
    """The tokens of ``text`` as the original release computed them."""
    text = _BREAK.sub(" ", text.lower())
    text = _URL.sub(f" {URL_TOKEN} ", text)
    text = _REMOVED.sub(" ", text)
    text = _DIGITS.sub(f" {NUMBER_TOKEN} ", text)
    text = _PUNCTUATION.sub(r" \1 ", text)
    return text.split()
