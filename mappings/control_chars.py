"""Control characters in text read from Salesforce (or a mapping) before it goes to a provider.

What counts: C0/C1 controls and DEL (Cc: NUL, escape, ...), format characters (Cf: the bidirectional
overrides, embeddings and isolates such as U+202E RIGHT-TO-LEFT OVERRIDE, marks such as U+200E, the BOM,
zero-width spaces), lone surrogates (Cs) and the Unicode line and paragraph separators (Zl, Zp). They are
invisible or reorder what is shown, so a name or title holding one can read differently from what it is.

Kept: U+200C ZERO WIDTH NON-JOINER and U+200D ZERO WIDTH JOINER, which spell words in Persian and Indic
scripts (and join emoji); and, where a text may span lines (a message), tab and line feed.
"""

from __future__ import annotations

import unicodedata

_SPELLING = frozenset("\u200c\u200d")
_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_NEW_LINES = str.maketrans({"\r": "\n", "\u2028": "\n", "\u2029": "\n", "\x85": "\n"})
_LINE_BREAKS = str.maketrans({"\r": " ", "\n": " ", "\t": " ", "\u2028": " ", "\u2029": " ", "\x85": " "})


def is_control(char: str) -> bool:
    return unicodedata.category(char) in _CATEGORIES and char not in _SPELLING


def first_control(text: str | None) -> str | None:
    """The first control character in `text`, or None."""
    if not text or text.isprintable():  # isprintable() is False for every character counted here
        return None
    return next((char for char in text if is_control(char)), None)


def describe(char: str) -> str:
    """`U+202E RIGHT-TO-LEFT OVERRIDE`; controls have no Unicode name: `U+0000`."""
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X} {name}".rstrip()


def strip_controls(text: str, *, multiline: bool = False) -> str:
    """`text` without control characters. Line breaks and tabs become spaces, unless `multiline`
    (then tabs and line breaks stay, each line break as a line feed)."""
    if text.isprintable():
        return text
    if multiline:
        text = text.replace("\r\n", "\n").translate(_NEW_LINES)
        return "".join(char for char in text if char in "\n\t" or not is_control(char))
    text = text.translate(_LINE_BREAKS)
    return "".join(char for char in text if not is_control(char))
