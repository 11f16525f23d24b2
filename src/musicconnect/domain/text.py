"""The one rule for text that people type: names, titles, messages.

Text is normalised to NFC (so "é" typed two ways is one string, compares equal and is stored once)
and refused when it carries C0/C1 control characters or bidi embeddings, overrides and isolates:
those rewrite how the text *looks* (U+202E flips "gpj.exe" into "exe.jpg", ANSI escapes recolour a
terminal, CR/LF forge log lines) without changing what it *is*.
"""

from __future__ import annotations

import unicodedata
from typing import Final

from musicconnect.domain.errors import InvalidInput

#: LRE, RLE, PDF, LRO, RLO and LRI, RLI, FSI, PDI (Unicode bidi formatting characters).
_BIDI_CONTROLS: Final = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
#: Line breaks and tabs belong in a message body, never in a one-line name or title.
_MULTILINE_ALLOWED: Final = frozenset("\n\t")


def _is_control(char: str) -> bool:
    # Category Cc is exactly C0 (U+0000-U+001F), DEL and C1 (U+0080-U+009F).
    return unicodedata.category(char) == "Cc" or char in _BIDI_CONTROLS


def clean_text(value: str, *, field: str, max_chars: int, multiline: bool = False) -> str:
    """``value`` in NFC and stripped; InvalidInput when empty, too long or carrying controls."""
    # A lone surrogate cannot be stored as UTF-8 anywhere: refuse it like a control.
    if any("\ud800" <= char <= "\udfff" for char in value):
        raise InvalidInput(f"{field} contains characters that are not text")
    cleaned = unicodedata.normalize("NFC", value).strip()
    allowed = _MULTILINE_ALLOWED if multiline else frozenset()
    if any(_is_control(char) and char not in allowed for char in cleaned):
        raise InvalidInput(f"{field} contains control or bidi-override characters")
    if not cleaned or len(cleaned) > max_chars:
        raise InvalidInput(f"{field} must be 1 to {max_chars} characters")
    return cleaned
