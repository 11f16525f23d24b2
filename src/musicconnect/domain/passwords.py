"""What makes a password acceptable: long enough, not common, not the email.

The common list is generated here rather than copied from a breach corpus: the stems people reach
for first, the keyboard walks and digit runs, each with the suffixes people add to pass a length
rule ("password1", "qwerty123", "iloveyou2024"). It is small on purpose: a few thousand entries
that account for the bulk of guesses an online attacker tries first.
"""

from __future__ import annotations

import functools
from typing import Final

from musicconnect.domain.errors import InvalidInput

MIN_PASSWORD_LENGTH: Final = 10
MAX_PASSWORD_LENGTH: Final = 1000
#: A local part shorter than this ("al@...") is too likely to occur by chance to refuse on.
_MIN_LOCAL_PART: Final = 4

_STEMS: Final = (
    "password",
    "passw0rd",
    "p@ssword",
    "p@ssw0rd",
    "qwerty",
    "qwertyuiop",
    "asdfgh",
    "asdfghjkl",
    "zxcvbnm",
    "azerty",
    "qazwsx",
    "1q2w3e4r",
    "1qaz2wsx",
    "iloveyou",
    "letmein",
    "welcome",
    "admin",
    "administrator",
    "monkey",
    "dragon",
    "football",
    "baseball",
    "basketball",
    "soccer",
    "sunshine",
    "princess",
    "shadow",
    "master",
    "superman",
    "batman",
    "trustno1",
    "whatever",
    "starwars",
    "pokemon",
    "computer",
    "internet",
    "secret",
    "freedom",
    "michael",
    "jennifer",
    "charlie",
    "jordan",
    "hunter",
    "killer",
    "ginger",
    "summer",
    "winter",
    "spring",
    "autumn",
    "changeme",
    "default",
    "login",
    "guest",
    "abc",
    "abcdef",
    "abcdefg",
    "abcdefgh",
    "music",
    "musicconnect",
    "spotify",
    "guitar",
    "rockstar",
    "lovely",
    "flower",
    "cheese",
    "chocolate",
    "hello",
    "helloworld",
    "matrix",
    "mustang",
    "access",
    "loveme",
    "blink182",
    "test",
    "testing",
)
_SUFFIXES: Final = (
    "",
    "1",
    "12",
    "123",
    "1234",
    "12345",
    "123456",
    "!",
    "1!",
    "123!",
    "01",
    "007",
    "69",
    "99",
    "2020",
    "2021",
    "2022",
    "2023",
    "2024",
    "2025",
    "2026",
)


def _runs() -> set[str]:
    """Digit runs, repeated characters and keyboard rows at every length a rule would accept."""
    runs: set[str] = set()
    for length in range(MIN_PASSWORD_LENGTH, 21):
        runs.add(("1234567890" * 3)[:length])
        runs.add(("0123456789" * 3)[:length])
        runs.add(("9876543210" * 3)[:length])
        runs.update(char * length for char in "0123456789abcxyz!*")
        runs.add(("qwertyuiop" * 3)[:length])
        runs.add(("asdfghjkl" * 3)[:length])
        runs.add(("abcdefghijklmnopqrstuvwxyz")[:length])
    return runs


@functools.cache
def common_passwords() -> frozenset[str]:
    """Lower-cased; built once per process."""
    generated = {stem + suffix for stem in _STEMS for suffix in _SUFFIXES}
    generated.update(stem * 2 for stem in _STEMS)
    generated.update(_runs())
    return frozenset(generated)


def check_password(password: str, *, email: str) -> None:
    """InvalidInput unless ``password`` is 10+ characters, not common and free of the email."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(f"password must be at most {MAX_PASSWORD_LENGTH} characters")
    folded = password.casefold()
    if folded in common_passwords():
        raise InvalidInput("this password is too common: choose another")
    address = email.casefold()
    local = address.partition("@")[0]
    if address in folded or (len(local) >= _MIN_LOCAL_PART and local in folded):
        raise InvalidInput("the password must not contain the email address")
