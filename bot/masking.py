"""Masking what must not reach Slack: named fields, and card numbers, e-mail addresses and phone
numbers found in any text.

Applied to everything built from items before it is sent (cards and their updates, the "Show
all fields" modal, App Home, `/hitl next`, reminders, digests); the database, the API and the
model keep the original. Pure functions on strings.

What counts as each, so a reader can predict it:

- a card number: 13 to 19 digits, single spaces or dashes allowed between them, that pass the
  Luhn check (a 16-digit order id that fails it stays as it is). Shown ``••••1111``: the last
  four digits, as receipts print them.
- an e-mail address: ``local@domain.tld``. Shown ``••••@domain.tld``: the mailbox is the person,
  the domain only says which company.
- a phone number: ``+`` and 8 to 15 digits (spaces, dots, dashes, parentheses allowed), or a
  national number written in groups: ``(555) 123-4567``, ``555-123-4567``, ``06 12 34 56 78``,
  ``020 7946 0958``. A bare run of digits is not taken for one (it is far more often an id or an
  amount), nor is a date. Shown ``••••58``: the last two digits.

No library is used: ``phonenumbers`` finds national numbers only for one region given in
advance and validates them against real numbering plans (the fictional 555 numbers of tests and
demos would pass unmasked); these rules find the common written forms whatever the country.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field

MASK = "••••"
#: A value named in ``mask_fields`` keeps its last characters only when it has more than this
#: many, so the part shown is never half of it.
_KEEP_WHEN_LONGER_THAN = 8

_CARD = re.compile(r"(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)")
_EMAIL = re.compile(
    r"[A-Za-z0-9._%+-]+@(?P<domain>[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})"
)
_PHONE = re.compile(
    r"(?<![\w+])(?:"
    r"\+\d[\d ().-]{6,22}\d"  # international: +33 6 12 34 56 78, +1 (555) 123-4567
    r"|(?:\(\d{3}\) ?|\d{3}[-. ])\d{3}[-. ]\d{4}"  # (555) 123-4567, 555-123-4567, 555.123.4567
    r"|0\d(?:[ .-]\d{2}){4}"  # 06 12 34 56 78, 06.12.34.56.78
    r"|0\d{2,4}[ -]\d{3,4}[ -]\d{3,4}"  # 020 7946 0958, 0171 234 5678
    r")(?![\w])"
)


def luhn_ok(digits: str) -> bool:
    """The Luhn check every payment card number passes (and most random numbers fail)."""
    if not digits.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char)
        if position % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def mask_value(text: str) -> str:
    """A value of ``mask_fields``: ``••••6789``, its last four characters kept when it is long
    enough that they do not give it away; spaces and dashes are not counted."""
    compact = re.sub(r"[\s-]", "", text)
    if len(compact) <= _KEEP_WHEN_LONGER_THAN:
        return MASK
    return MASK + compact[-4:]


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    if 13 <= len(digits) <= 19 and luhn_ok(digits):
        return MASK + digits[-4:]
    return match.group()


def _phone(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    if match.group().startswith("+") and not 8 <= len(digits) <= 15:
        return match.group()
    return MASK + digits[-2:]


def mask_patterns(text: str) -> str:
    """``text`` with card numbers, e-mail addresses and phone numbers masked (see the module
    docstring for what counts as each)."""
    if "@" in text:
        text = _EMAIL.sub(lambda m: f"{MASK}@{m.group('domain')}", text)
    if sum(ch.isdigit() for ch in text) >= 7:
        text = _CARD.sub(_card, text)
        text = _PHONE.sub(_phone, text)
    return text


@dataclass(frozen=True)
class Masking:
    """A queue's masking: the fields always masked, and whether patterns are looked for."""

    fields: frozenset[str] = field(default_factory=frozenset)
    patterns: bool = True

    @classmethod
    def of(cls, mask_fields: Collection[str], mask_patterns: bool) -> Masking:
        return cls(frozenset(mask_fields), mask_patterns)

    def value(self, name: str, text: str) -> str:
        """The value of field ``name`` as it may be shown."""
        if name in self.fields:
            return mask_value(text)
        return self.text(text)

    def text(self, text: str) -> str:
        """Any other text from an item (its id, a message, a category)."""
        return mask_patterns(text) if self.patterns else text
