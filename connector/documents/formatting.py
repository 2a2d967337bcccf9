"""How merge-field values print: amounts, numbers and dates as the rule's language writes them.

The conventions come from the Unicode CLDR through Babel, so every language a rule can name (SignRequest's
seventeen, any code OneSpan takes) gets its own separators, month names and currency placement:

- Amounts, the Salesforce currency fields `Opportunity.Amount` and `Opportunity.ExpectedRevenue`: two
  decimals with the language's separators (en 22,500.00; de 22.500,00; fr 22 500,00). With the rule's
  `currency` (an ISO 4217 code), the currency too, where and how the language puts it (en $22,500.00;
  en-gb US$22,500.00; de 22.500,00 $; fr 22 500,00 $US), with that currency's decimals (JPY none).
- Other numbers (Probability, custom number fields): the language's separators, the decimals Salesforce
  returns (en 12.5, de 12,5; en 48,000).
- Dates (CloseDate, and any value Salesforce returns as YYYY-MM-DD): the language's long date (en
  December 31, 2026; en-gb 31 December 2026; fr 31 décembre 2026; de 31. Dezember 2026).
- Date/times (CreatedDate, custom date/time fields; Salesforce returns them in UTC): the long date, the
  language's short time and "UTC" (en December 4, 2026 4:25 PM UTC; de 4. Dezember 2026 16:25 UTC).
- Text, ids and booleans (true/false) print as Salesforce returns them; an empty field prints nothing.

A language CLDR does not know prints as its base language (xx-yy as xx), else as en. CLDR's narrow
no-break space (French thousands, the English "4:25 PM") is written as an ordinary no-break space, which
the templates' standard Helvetica can draw.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time
from babel.numbers import format_currency, format_decimal

from mappings.merge_fields import CURRENCY_FIELDS

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})")
_NARROW_NBSP, _NBSP = "\u202f", "\u00a0"


@lru_cache(maxsize=64)
def locale_for(language: str) -> Locale:
    """The CLDR locale of a rule's language code (en, en-gb, fr...): its base language when the region is
    unknown, en when the language is."""
    for candidate in (language, language.split("-")[0], "en"):
        try:
            return Locale.parse(candidate, sep="-")
        except (UnknownLocaleError, ValueError):
            continue
    raise AssertionError("CLDR has no en locale")  # pragma: no cover - Babel ships en


@lru_cache(maxsize=64)
def _two_decimals(locale: Locale):
    pattern = copy.copy(locale.decimal_formats[None])
    pattern.frac_prec = (2, 2)
    return pattern


def _number(value: int | float | Decimal) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


@dataclass(frozen=True)
class ValueFormat:
    """How one rule prints values: its `language`, and its `currency` for amounts (None: the number alone)."""

    language: str = "en"
    currency: str | None = None

    def text(self, name: str, value: object) -> str:
        """`value` of merge field `name` (Opportunity.Amount, Account.BillingCity...) as the rule prints it."""
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float | Decimal):
            return self.amount(value) if name in CURRENCY_FIELDS else self.number(value)
        if isinstance(value, str) and _DATE.fullmatch(value):
            return self.date(date.fromisoformat(value))
        if isinstance(value, str) and _DATETIME.fullmatch(value):
            return self.datetime(datetime.fromisoformat(value))
        return str(value)

    def amount(self, value: int | float | Decimal) -> str:
        locale = locale_for(self.language)
        if self.currency:
            printed = format_currency(_number(value), self.currency, locale=locale)
        else:
            printed = _two_decimals(locale).apply(_number(value), locale)
        return printed.replace(_NARROW_NBSP, _NBSP)

    def number(self, value: int | float | Decimal) -> str:
        printed = format_decimal(_number(value), locale=locale_for(self.language), decimal_quantization=False)
        return printed.replace(_NARROW_NBSP, _NBSP)

    def date(self, value: date) -> str:
        return format_date(value, "long", locale=locale_for(self.language)).replace(_NARROW_NBSP, _NBSP)

    def datetime(self, value: datetime) -> str:
        utc = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
        locale = locale_for(self.language)
        time = format_time(utc, "short", tzinfo=UTC, locale=locale)
        return f"{self.date(utc.date())} {time} UTC".replace(_NARROW_NBSP, _NBSP)
