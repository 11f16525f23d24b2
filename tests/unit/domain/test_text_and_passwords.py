"""The one rule for typed text, and what makes a password acceptable."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from musicconnect.domain.errors import InvalidInput
from musicconnect.domain.passwords import check_password, common_passwords
from musicconnect.domain.text import clean_text


def test_text_is_normalised_to_nfc_and_stripped() -> None:
    """Decomposed accents are composed; surrounding spaces go."""
    assert clean_text("  Rene\u0301e ", field="name", max_chars=10) == "Ren\u00e9e"


@pytest.mark.parametrize(
    "char", ["\x00", "\x07", "\x1b", "\r", "\n", "\x7f", "\x85", "\x9b", "\u202e", "\u2067"]
)
def test_control_and_bidi_characters_are_refused(char: str) -> None:
    """C0, DEL, C1 and bidi embeddings, overrides and isolates in a one-line name."""
    with pytest.raises(InvalidInput, match="control"):
        clean_text(f"a{char}b", field="name", max_chars=10)


def test_a_message_may_break_lines_but_not_carry_escapes() -> None:
    """Multi-line text keeps newlines and tabs, never an escape or a carriage return."""
    assert clean_text("one\n\ttwo", field="body", max_chars=20, multiline=True) == "one\n\ttwo"
    with pytest.raises(InvalidInput):
        clean_text("one\r\ntwo", field="body", max_chars=20, multiline=True)


def test_lone_surrogates_are_refused() -> None:
    """JSON can carry them; no database can store them."""
    with pytest.raises(InvalidInput):
        clean_text("a\ud800b", field="name", max_chars=10)


@given(st.text(alphabet=st.characters(categories=["L", "N", "P", "Zs"]), min_size=1, max_size=50))
def test_ordinary_text_is_kept_as_its_nfc_form(value: str) -> None:
    """Letters, digits, punctuation and spaces pass (when not blank), already normalised."""
    expected = unicodedata.normalize("NFC", value).strip()
    if not expected or len(expected) > 50:
        with pytest.raises(InvalidInput):
            clean_text(value, field="name", max_chars=50)
    else:
        assert clean_text(value, field="name", max_chars=50) == expected


@pytest.mark.parametrize("password", ["password12", "Qwertyuiop", "1234567890", "iloveyou2024", "aaaaaaaaaa"])
def test_common_passwords_are_refused_whatever_their_case(password: str) -> None:
    """The generated list covers stems with suffixes, digit runs, keyboard rows and repeats."""
    with pytest.raises(InvalidInput, match="common"):
        check_password(password, email="ada@example.com")


def test_a_password_needs_at_least_ten_characters() -> None:
    """Nine uncommon characters are refused for their length alone; ten are enough."""
    with pytest.raises(InvalidInput, match="at least 10"):
        check_password("k7#vQ2!mZ", email="ada@example.com")
    check_password("k7#vQ2!mZp", email="ada@example.com")


def test_a_password_containing_the_email_or_its_name_is_refused() -> None:
    """The whole address, or its local part when it is at least four characters."""
    for password in ("my LoveLace@Example.com!", "lovelace-forever-1", "xxLOVELACExx"):
        with pytest.raises(InvalidInput, match="email"):
            check_password(password, email="lovelace@example.com")
    check_password("correct horse battery", email="al@example.com")


def test_the_list_is_small_and_lower_case() -> None:
    """A few thousand entries, all lower-case, none shorter than any real password could be."""
    found = common_passwords()
    assert 1000 < len(found) < 20_000
    assert all(p == p.lower() for p in found)
