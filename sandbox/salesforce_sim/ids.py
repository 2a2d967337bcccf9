"""Record Ids: 15 case-sensitive characters plus the 3-character case checksum (18 in all)."""

from __future__ import annotations

import itertools
import re
import string

_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_SUFFIX_ALPHABET = string.ascii_uppercase + "012345"
_ID_SHAPE = re.compile(r"[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?")
ORG_ID = "00D5g000004SbxQEAS"


def checksum_suffix(id15: str) -> str:
    suffix = ""
    for start in range(0, 15, 5):
        bits = sum(1 << i for i, ch in enumerate(id15[start:start + 5]) if ch.isupper())
        suffix += _SUFFIX_ALPHABET[bits]
    return suffix


def canonical_id(value: object) -> str | None:
    """The 18-character form of a 15- or 18-character Id, or None when `value` is not a well-formed Id."""
    if not isinstance(value, str) or not _ID_SHAPE.fullmatch(value):
        return None
    if len(value) == 15:
        return value + checksum_suffix(value)
    head, suffix = value[:15], value[15:].upper()
    if checksum_suffix(head) == suffix:
        return head + suffix
    # The 18-character form is case-insensitive: the suffix says which of the first 15 are upper case.
    restored = []
    for group, code in enumerate(suffix):
        bits = _SUFFIX_ALPHABET.index(code)
        for offset, ch in enumerate(head[group * 5:group * 5 + 5]):
            upper = bool(bits >> offset & 1)
            if upper and not ch.isalpha():
                return None
            restored.append(ch.upper() if upper else ch.lower())
    return "".join(restored) + suffix


class IdFactory:
    """Sequential Ids per org, encoded in base 62 so that they mix letter cases the way real ones do."""

    def __init__(self) -> None:
        self._counter = itertools.count(62 ** 6 * 11 + 7919)

    def new(self, prefix: str) -> str:
        number, digits = next(self._counter), ""
        while number:
            number, rest = divmod(number, 62)
            digits = _BASE62[rest] + digits
        id15 = prefix + "5g" + digits.rjust(10, "0")  # "5g" stands for the pod, as in real Ids
        return id15 + checksum_suffix(id15)
