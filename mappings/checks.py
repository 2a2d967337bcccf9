"""Checks of a valid mapping against what it refers to: template files, their form fields, signer numbers.

Run by the loader after the models accept the file, so each problem still gets `file:line:column`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from connector.documents.pdf_forms import TemplateError, form_fields
from mappings import merge_fields
from mappings.models import MappingFile, Rule, TemplateDocument


@dataclass(frozen=True)
class Found:
    loc: tuple
    message: str
    at_key: bool = False  # point at the key (a name that is wrong) rather than its value


def template_file(folder: Path, path: str) -> Path | None:
    """Where `path` (relative to the mapping file's folder) is, if it stays inside that folder."""
    base = folder.resolve()
    target = (base / path).resolve()
    return target if target.is_relative_to(base) else None


def _nearest(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.5)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f"; available: {', '.join(choices)}" if choices else ""


def _template_problems(folder: Path, loc: tuple, document: TemplateDocument) -> Iterator[Found]:
    spec = document.template
    try:
        target = template_file(folder, spec.path)
        present = target is not None and target.is_file()
    except (OSError, ValueError) as exc:
        yield Found((*loc, "path"), f"template path {spec.path!r} cannot be used: {exc}")
        return
    if target is None or not present:
        requested = Path(spec.path)
        beside = folder / requested.parent
        found = sorted(str(requested.parent / p.name) for p in beside.glob("*.pdf")) if beside.is_dir() else []
        yield Found((*loc, "path"), f"template file {spec.path!r} not found in {folder}{_nearest(spec.path, found)}")
        return
    try:
        fields = form_fields(target.read_bytes())
    except TemplateError as exc:
        yield Found((*loc, "path"), f"template {spec.path!r} {exc.message}; use a fillable PDF")
        return
    except OSError as exc:
        yield Found((*loc, "path"), f"template {spec.path!r} cannot be read: {exc.strerror}")
        return
    if not fields:
        yield Found((*loc, "path"), f"template {spec.path!r} has no form fields; add text fields to the PDF")
        return
    text_fields = sorted(name for name, kind in fields.items() if kind == "text")
    for name in spec.fields:
        if name not in fields:
            yield Found((*loc, "fields", name), f"form field {name!r} is not in {spec.path}"
                                                 f"{_nearest(name, text_fields)}", at_key=True)
        elif fields[name] != "text":
            yield Found((*loc, "fields", name), f"form field {name!r} in {spec.path} is a {fields[name]} field; "
                                                 f"only text fields can be filled (text fields: "
                                                 f"{', '.join(text_fields) or 'none'})", at_key=True)


def rule_texts(rule: Rule, index: int) -> Iterator[tuple[tuple, str]]:
    yield ("rules", index, "subject"), rule.subject
    yield ("rules", index, "message"), rule.message
    for position, document in enumerate(rule.documents):
        if isinstance(document, TemplateDocument):
            base = ("rules", index, "documents", position, "template")
            yield (*base, "title"), document.template.title
            for name, text in document.template.fields.items():
                yield (*base, "fields", name), text


def _signer_problems(rule: Rule, index: int) -> Iterator[Found]:
    count = len(rule.signers) + (1 if rule.internal_signer else 0)
    for loc, text in rule_texts(rule, index):
        for name in merge_fields.names_in(text):
            number = merge_fields.signer_index(name)
            if number is not None and number > count:
                yield Found(loc, f"merge field {{{{{name}}}}} names signer {number} but this rule has {count} "
                                 f"signer(s); use Signer1 to Signer{count}")


def check_rule_references(mapping: MappingFile, folder: Path) -> list[Found]:
    found: list[Found] = []
    for index, rule in enumerate(mapping.rules):
        found.extend(_signer_problems(rule, index))
        for position, document in enumerate(rule.documents):
            if isinstance(document, TemplateDocument):
                found.extend(_template_problems(folder, ("rules", index, "documents", position, "template"),
                                                document))
    return found
