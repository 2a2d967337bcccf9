"""A parser for the SOQL subset the connector uses. Anything else is a MALFORMED_QUERY."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime


class SoqlError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),])
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
""", re.X)
KEYWORDS = {"SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "LIKE", "ORDER", "BY", "ASC", "DESC", "NULLS",
            "FIRST", "LAST", "LIMIT", "OFFSET", "TRUE", "FALSE", "NULL"}


@dataclass
class Token:
    kind: str
    text: str
    value: object = None


@dataclass
class Query:
    fields: list[str | Query]
    sobject: str
    where: object = None
    order: list[tuple[str, bool, bool]] = field(default_factory=list)  # (field, descending, nulls_last)
    limit: int | None = None
    offset: int = 0


@dataclass
class Comparison:
    field: str
    op: str
    value: object


@dataclass
class Logical:
    op: str  # AND, OR, NOT
    parts: list


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), text[1:-1])


def tokenize(text: str) -> list[Token]:
    tokens, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            raise SoqlError("MALFORMED_QUERY", f"unexpected token at position {pos}: {text[pos:pos + 20]!r}")
        pos = match.end()
        kind = match.lastgroup
        raw = match.group()
        if kind == "ws":
            continue
        if kind == "string":
            tokens.append(Token("value", raw, _unescape(raw)))
        elif kind == "datetime":
            tokens.append(Token("value", raw, datetime.fromisoformat(raw.replace("Z", "+00:00"))))
        elif kind == "date":
            tokens.append(Token("value", raw, date.fromisoformat(raw)))
        elif kind == "number":
            tokens.append(Token("value", raw, float(raw) if "." in raw else int(raw)))
        elif kind == "name" and raw.upper() in KEYWORDS:
            upper = raw.upper()
            if upper in ("TRUE", "FALSE", "NULL"):
                tokens.append(Token("value", raw, {"TRUE": True, "FALSE": False, "NULL": None}[upper]))
            else:
                tokens.append(Token("kw", upper))
        else:
            tokens.append(Token(kind, raw))
    return tokens


class _Parser:
    def __init__(self, tokens: list[Token]):
        self.tokens = tokens
        self.pos = 0

    def peek(self, offset: int = 0) -> Token | None:
        index = self.pos + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def take(self, kind: str, text: str | None = None) -> Token:
        token = self.peek()
        if token is None or token.kind != kind or (text is not None and token.text != text):
            got = token.text if token else "end of query"
            raise SoqlError("MALFORMED_QUERY", f"expected {text or kind} but found {got!r}")
        self.pos += 1
        return token

    def accept(self, kind: str, text: str | None = None) -> bool:
        token = self.peek()
        if token and token.kind == kind and (text is None or token.text == text):
            self.pos += 1
            return True
        return False

    def query(self) -> Query:
        self.take("kw", "SELECT")
        fields: list[str | Query] = []
        while True:
            if self.accept("punct", "("):
                fields.append(self.query())
                self.take("punct", ")")
            else:
                fields.append(self.take("name").text)
            if not self.accept("punct", ","):
                break
        self.take("kw", "FROM")
        result = Query(fields=fields, sobject=self.take("name").text)
        if self.accept("kw", "WHERE"):
            result.where = self.disjunction()
        if self.accept("kw", "ORDER"):
            self.take("kw", "BY")
            while True:
                name = self.take("name").text
                descending = self.accept("kw", "DESC") or (self.accept("kw", "ASC") and False)
                nulls_last = descending
                if self.accept("kw", "NULLS"):
                    nulls_last = self.accept("kw", "LAST") or (self.take("kw", "FIRST") and False)
                result.order.append((name, descending, nulls_last))
                if not self.accept("punct", ","):
                    break
        if self.accept("kw", "LIMIT"):
            result.limit = self._int()
        if self.accept("kw", "OFFSET"):
            result.offset = self._int()
        return result

    def _int(self) -> int:
        token = self.take("value")
        if not isinstance(token.value, int) or token.value < 0:
            raise SoqlError("MALFORMED_QUERY", f"expected a whole number, found {token.text!r}")
        return token.value

    def disjunction(self):
        parts = [self.conjunction()]
        while self.accept("kw", "OR"):
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else Logical("OR", parts)

    def conjunction(self):
        parts = [self.negation()]
        while self.accept("kw", "AND"):
            parts.append(self.negation())
        return parts[0] if len(parts) == 1 else Logical("AND", parts)

    def negation(self):
        if self.accept("kw", "NOT"):
            return Logical("NOT", [self.negation()])
        if self.accept("punct", "("):
            inner = self.disjunction()
            self.take("punct", ")")
            return inner
        name = self.take("name").text
        if self.accept("kw", "NOT"):
            self.take("kw", "IN")
            return Comparison(name, "NOT IN", self._list())
        if self.accept("kw", "IN"):
            return Comparison(name, "IN", self._list())
        if self.accept("kw", "LIKE"):
            return Comparison(name, "LIKE", self.take("value").value)
        op = self.take("op").text
        return Comparison(name, "!=" if op == "<>" else op, self.take("value").value)

    def _list(self) -> list:
        self.take("punct", "(")
        values = [self.take("value").value]
        while self.accept("punct", ","):
            values.append(self.take("value").value)
        self.take("punct", ")")
        return values


def parse(text: str) -> Query:
    parser = _Parser(tokenize(text))
    query = parser.query()
    if parser.peek() is not None:
        raise SoqlError("MALFORMED_QUERY", f"unexpected {parser.peek().text!r} after the end of the query")
    return query
