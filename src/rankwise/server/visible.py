"""Which texts have content: a query or document made only of spaces, controls, format characters
(zero-width space and joiners, byte order mark, word joiner, direction marks, soft hyphen) or combining
marks with nothing to combine with is refused, not scored as if it said something. One definition serves
the check and the request schema's `pattern`, so a client generating requests from the schema (and
schemathesis) never sends one that the check refuses.

Characters outside the Basic Multilingual Plane count as content: JSON Schema patterns cannot name them
portably, and the few invisible ones there (tag characters, musical formatting) are no threat to a model."""

from __future__ import annotations

import re
import unicodedata

INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp", "Mn", "Mc", "Me"})


def _invisible_ranges() -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []
    for code in range(0x10000):
        char = chr(code)
        if unicodedata.category(char) in INVISIBLE_CATEGORIES or char.isspace():
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1] = (ranges[-1][0], code)
            else:
                ranges.append((code, code))
    return ranges


def _escaped(code: int) -> str:
    return f"\\u{code:04x}"


# A character that is content, as a regular expression both Python and JSON Schema (ECMA-262) read alike.
VISIBLE_PATTERN = (
    "[^" + "".join(_escaped(a) if a == b else f"{_escaped(a)}-{_escaped(b)}" for a, b in _invisible_ranges()) + "]"
)
_VISIBLE = re.compile(VISIBLE_PATTERN)


def has_visible_text(text: str) -> bool:
    return _VISIBLE.search(text) is not None
