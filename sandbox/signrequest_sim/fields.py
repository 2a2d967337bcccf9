"""Field parsers that coerce and reject input the way Django REST Framework's serializer fields do.

Each parser takes the raw value (JSON, or a form string) and returns the cleaned value, or raises
`FieldError` with DRF's own wording, so error bodies look like the real API's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from typing import Any
from urllib.parse import urlsplit

Parser = Callable[[Any], Any]

MAX_INT = 2147483647
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
                    r"[A-Za-z]{2,63}$")
# localhost, an IPv4 or IPv6 address, or a dotted domain name (Django's URLValidator refuses single labels)
_HOST = re.compile(r"^(localhost|(\d{1,3}\.){3}\d{1,3}|[0-9a-fA-F:]*:[0-9a-fA-F:]*"
                   r"|([A-Za-z0-9-]+\.)+[A-Za-z]{2,63})$")
_TRUE = {"t", "y", "yes", "true", "on", "1"}
_FALSE = {"f", "n", "no", "false", "off", "0"}


class FieldError(Exception):
    def __init__(self, *messages: str):
        super().__init__(messages[0])
        self.messages = list(messages)


def _type_name(value: Any) -> str:
    return "NoneType" if value is None else type(value).__name__


def text(max_length: int | None = None, *, blank: bool = True) -> Parser:
    def parse(value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise FieldError("Not a valid string.")
        cleaned = str(value).strip()  # DRF's CharField trims whitespace by default
        if not cleaned and not blank:
            raise FieldError("This field may not be blank.")
        if max_length is not None and len(cleaned) > max_length:
            raise FieldError(f"Ensure this field has no more than {max_length} characters.")
        return cleaned
    return parse


def email(max_length: int = 255) -> Parser:
    as_text = text(max_length, blank=False)

    def parse(value: Any) -> str:
        cleaned = as_text(value)
        if not _EMAIL.match(cleaned):
            raise FieldError("Enter a valid email address.")
        return cleaned
    return parse


def url(max_length: int = 2100) -> Parser:
    as_text = text(max_length)

    def parse(value: Any) -> str:
        cleaned = as_text(value)
        if not cleaned:
            return cleaned
        parts = urlsplit(cleaned)
        if parts.scheme not in ("http", "https") or not _HOST.match(parts.hostname or "") or " " in cleaned:
            raise FieldError("Enter a valid URL.")
        return cleaned
    return parse


def integer(minimum: int, maximum: int) -> Parser:
    def parse(value: Any) -> int:
        if isinstance(value, str) and len(value) > 1000:
            raise FieldError("String value too large.")
        try:
            number = int(re.sub(r"\.0*$", "", str(value)))  # DRF accepts "30", 30 and 30.0
        except ValueError:  # also for booleans: str(True) is not a number
            raise FieldError("A valid integer is required.") from None
        if number < minimum:
            raise FieldError(f"Ensure this value is greater than or equal to {minimum}.")
        if number > maximum:
            raise FieldError(f"Ensure this value is less than or equal to {maximum}.")
        return number
    return parse


def boolean(value: Any) -> bool:
    if value is True or value is False:
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise FieldError("Must be a valid boolean.")


def choice(options: Collection[str]) -> Parser:
    def parse(value: Any) -> str:
        if not isinstance(value, str | int) or isinstance(value, bool) or str(value) not in options:
            raise FieldError(f'"{value}" is not a valid choice.')
        return str(value)
    return parse


def mapping(value: Any) -> dict:
    if not isinstance(value, dict):
        raise FieldError(f'Expected a dictionary of items but got type "{_type_name(value)}".')
    return value


def phone_number(value: Any) -> str:
    cleaned = text(255)(value)
    # SignRequest asks for international format with a leading + (it texts the code to this number)
    if cleaned and not re.fullmatch(r"\+[0-9]{6,15}", cleaned.replace(" ", "")):
        raise FieldError("Enter a phone number in international format, starting with +.")
    return cleaned


def clean(data: dict, parsers: dict[str, Parser], *, required: Collection[str] = (),
          nullable: Collection[str] = ()) -> tuple[dict, dict]:
    """The cleaned known fields of `data` and a DRF error map; unknown keys are ignored, as DRF does."""
    cleaned: dict = {}
    errors: dict = {}
    for name, parse in parsers.items():
        if name not in data:
            if name in required:
                errors[name] = ["This field is required."]
            continue
        value = data[name]
        if value is None:
            if name in nullable:
                cleaned[name] = None
            else:
                errors[name] = ["This field may not be null."]
            continue
        try:
            cleaned[name] = parse(value)
        except FieldError as error:
            errors[name] = error.messages
    return cleaned, errors


def not_a_dict(value: Any) -> str:
    return f"Invalid data. Expected a dictionary, but got {_type_name(value)}."


def not_a_list(value: Any) -> str:
    return f'Expected a list of items but got type "{_type_name(value)}".'
