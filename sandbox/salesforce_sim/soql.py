"""Tokenizer and recursive-descent parser for the SOQL subset the simulator runs.

Anything outside the subset is a MALFORMED_QUERY, which is what Salesforce answers to a statement
it cannot parse. Like SOQL, a WHERE level may not mix AND and OR without parentheses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime

from sandbox.salesforce_sim.errors import SfError

MAX_OFFSET = 2000
KEYWORDS = {"SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "LIKE", "ORDER", "BY", "ASC", "DESC",
            "NULLS", "FIRST", "LAST", "LIMIT", "OFFSET"}
_CONSTANTS = {"TRUE": True, "FALSE": False, "NULL": None}
_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2})(?![\w:])
  | (?P<number>-?\d+(?:\.\d+)?)(?![\w.])
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),])
  | (?P<name>[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)*)
""", re.X)
_ESCAPES = {"n": "\n", "N": "\n", "r": "\r", "R": "\r", "t": "\t", "T": "\t", "b": "\b", "B": "\b", "f": "\f",
            "F": "\f", '"': '"', "'": "'", "\\": "\\"}


@dataclass
class Token:
    kind: str  # kw, name, op, punct, literal
    text: str
    column: int
    value: object = None
    like: str | None = None  # for string literals: the pattern as a regular expression


@dataclass
class Ordering:
    field: str
    descending: bool = False
    nulls_last: bool = False  # SOQL sorts nulls first unless told otherwise, in either direction


@dataclass
class Query:
    fields: list[str | Query]
    sobject: str
    where: Condition | None = None
    order: list[Ordering] = field(default_factory=list)
    limit: int | None = None
    offset: int = 0


@dataclass
class Comparison:
    field: str
    op: str  # = != < > <= >= IN, NOT IN, LIKE
    value: object  # a list for IN and NOT IN
    pattern: re.Pattern | None = None  # for LIKE


@dataclass
class Logical:
    op: str  # AND, OR, NOT
    parts: list[Condition]


Condition = Comparison | Logical


def malformed(message: str, column: int | None = None) -> SfError:
    where = f"ERROR at Row:1:Column:{column + 1}\n" if column is not None else ""
    return SfError(400, "MALFORMED_QUERY", where + message)


def _string(raw: str, column: int) -> tuple[str, str]:
    """The value of a quoted literal, and the same literal as a LIKE regular expression."""
    value, pattern, index, body = [], [], 0, raw[1:-1]
    while index < len(body):
        ch = body[index]
        if ch == "\\":
            escaped = body[index + 1]
            if escaped in "%_":
                value.append("\\" + escaped)
                pattern.append(re.escape(escaped))
            elif escaped in _ESCAPES:
                value.append(_ESCAPES[escaped])
                pattern.append(re.escape(_ESCAPES[escaped]))
            else:
                raise malformed(f"Invalid string literal '{raw}'. Illegal character sequence "
                                f"'\\{escaped}' in string literal.", column)
            index += 2
            continue
        value.append(ch)
        pattern.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        index += 1
    return "".join(value), "".join(pattern)


def _literal(kind: str, text: str, column: int) -> Token:
    try:
        if kind == "datetime":
            return Token("literal", text, column, datetime.fromisoformat(text.replace("Z", "+00:00")))
        if kind == "date":
            return Token("literal", text, column, date.fromisoformat(text))
    except ValueError:
        raise malformed(f"line 1:{column} no viable alternative at character '{text}'", column) from None
    if kind == "number":
        return Token("literal", text, column, float(text) if "." in text else int(text))
    value, like = _string(text, column)
    return Token("literal", text, column, value, like)


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match:
            raise malformed(f"unexpected token: '{text[position:position + 20]}'", position)
        kind, raw = match.lastgroup or "", match.group()
        if kind in ("string", "datetime", "date", "number"):
            tokens.append(_literal(kind, raw, position))
        elif kind == "name" and raw.upper() in _CONSTANTS:
            tokens.append(Token("literal", raw, position, _CONSTANTS[raw.upper()]))
        elif kind == "name" and raw.upper() in KEYWORDS:
            tokens.append(Token("kw", raw.upper(), position))
        elif kind != "space":
            tokens.append(Token(kind, raw, position))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[Token]):
        self.tokens = tokens
        self.position = 0

    def peek(self) -> Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def unexpected(self) -> SfError:
        token = self.peek()
        if token is None:
            return malformed("unexpected token: <EOF>")
        return malformed(f"unexpected token: '{token.text}'", token.column)

    def take(self, kind: str, text: str | None = None) -> Token:
        token = self.peek()
        if token is None or token.kind != kind or (text is not None and token.text != text):
            raise self.unexpected()
        self.position += 1
        return token

    def accept(self, kind: str, text: str | None = None) -> Token | None:
        token = self.peek()
        if token is not None and token.kind == kind and (text is None or token.text == text):
            self.position += 1
            return token
        return None

    def query(self) -> Query:
        self.take("kw", "SELECT")
        fields: list[str | Query] = [self.select_item()]
        while self.accept("punct", ","):
            fields.append(self.select_item())
        self.take("kw", "FROM")
        result = Query(fields, self.take("name").text)
        if self.accept("kw", "WHERE"):
            result.where = self.condition()
        if self.accept("kw", "ORDER"):
            self.take("kw", "BY")
            result.order.append(self.ordering())
            while self.accept("punct", ","):
                result.order.append(self.ordering())
        if self.accept("kw", "LIMIT"):
            result.limit = self.whole_number()
        if self.accept("kw", "OFFSET"):
            result.offset = self.whole_number()
            if result.offset > MAX_OFFSET:
                raise SfError(400, "NUMBER_OUTSIDE_VALID_RANGE",
                              f"Maximum SOQL offset allowed is {MAX_OFFSET}")
        return result

    def select_item(self) -> str | Query:
        if self.accept("punct", "("):
            subquery = self.query()
            self.take("punct", ")")
            return subquery
        return self.take("name").text

    def ordering(self) -> Ordering:
        ordering = Ordering(self.take("name").text)
        if self.accept("kw", "DESC"):
            ordering.descending = True
        else:
            self.accept("kw", "ASC")
        if self.accept("kw", "NULLS"):
            if self.accept("kw", "LAST"):
                ordering.nulls_last = True
            else:
                self.take("kw", "FIRST")
        return ordering

    def whole_number(self) -> int:
        token = self.take("literal")
        if type(token.value) is not int or token.value < 0:
            raise malformed(f"unexpected token: '{token.text}'", token.column)
        return token.value

    def condition(self) -> Condition:
        parts = [self.unit()]
        joiner = None
        while (token := self.peek()) is not None and token.kind == "kw" and token.text in ("AND", "OR"):
            if joiner not in (None, token.text):
                raise malformed(f"unexpected token: '{token.text}' (use parentheses to combine AND and OR)",
                                token.column)
            joiner = self.take("kw").text
            parts.append(self.unit())
        return parts[0] if joiner is None else Logical(joiner, parts)

    def unit(self) -> Condition:
        if self.accept("kw", "NOT"):
            return Logical("NOT", [self.unit()])
        if self.accept("punct", "("):
            inner = self.condition()
            self.take("punct", ")")
            return inner
        name = self.take("name").text
        if self.accept("kw", "NOT"):
            self.take("kw", "IN")
            return Comparison(name, "NOT IN", self.value_list())
        if self.accept("kw", "IN"):
            return Comparison(name, "IN", self.value_list())
        if self.accept("kw", "LIKE"):
            token = self.take("literal")
            if token.like is None:
                raise malformed(f"unexpected token: '{token.text}'", token.column)
            return Comparison(name, "LIKE", token.value, re.compile(token.like, re.I | re.S))
        op = self.take("op").text
        return Comparison(name, "!=" if op == "<>" else op, self.take("literal").value)

    def value_list(self) -> list:
        self.take("punct", "(")
        values = [self.take("literal").value]
        while self.accept("punct", ","):
            values.append(self.take("literal").value)
        self.take("punct", ")")
        return values


def parse(text: str) -> Query:
    parser = _Parser(tokenize(text))
    query = parser.query()
    if parser.peek() is not None:
        raise parser.unexpected()
    return query
