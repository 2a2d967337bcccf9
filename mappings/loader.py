"""Load mapping files and report every problem as `file:line:column: message`."""

from __future__ import annotations

import difflib
import hashlib
import typing
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from mappings.checks import check_rule_references
from mappings.models import DOCUMENT_TAGS, MappingFile


@dataclass(frozen=True)
class MappingProblem:
    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class MappingError(Exception):
    def __init__(self, problems: list[MappingProblem]):
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def _node_at(root: yaml.Node | None, loc: tuple, *, want_key: bool = False) -> yaml.Node | None:
    """The YAML node a pydantic error location points at (or its nearest ancestor);
    with `want_key`, the key of the last part rather than its value."""
    node = root
    for index, part in enumerate(loc):
        if part == 0 and isinstance(node, yaml.MappingNode):
            continue  # a single item written without the list around it (documents: {title_pattern: ...})
        if want_key and index == len(loc) - 1 and isinstance(node, yaml.MappingNode):
            return next((k for k, _ in node.value if k.value == part), node)
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if k.value == part), None)
            if child is None:
                key = next((k for k, _ in node.value if k.value == part), None)
                return key or node
            node = child
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            return node
    return node


def _model_at(loc: tuple) -> type[BaseModel] | None:
    """The pydantic model that owns the last key of `loc` (for 'did you mean')."""
    model: type[BaseModel] | None = MappingFile
    for index, part in enumerate(loc[:-1]):
        if _is_tag(loc, index):  # the union member pydantic validated against
            model = DOCUMENT_TAGS[part]
            continue
        if isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        model = next((t for t in _types(field.annotation) if isinstance(t, type) and issubclass(t, BaseModel)), None)
    return model


def _types(annotation) -> list:
    args = typing.get_args(annotation)
    return [t for arg in args for t in _types(arg)] if args else [annotation]


def _is_tag(loc: tuple, index: int) -> bool:
    """Whether loc[index] is the union label pydantic puts after `documents.<n>` (not a key someone wrote)."""
    return (loc[index] in DOCUMENT_TAGS and index >= 2 and isinstance(loc[index - 1], int)
            and loc[index - 2] == "documents")


def _without_tags(loc: tuple) -> tuple:
    return tuple(part for index, part in enumerate(loc) if not _is_tag(loc, index))


def _as_written(root: yaml.Node | None, loc: tuple) -> str:
    """`loc` as a dotted path, leaving out the list index of an item written without its list."""
    shown = [str(part) for index, part in enumerate(loc)
             if not (part == 0 and isinstance(_node_at(root, loc[:index]), yaml.MappingNode))]
    return ".".join(shown)


def _suggestion(loc: tuple) -> str:
    model = _model_at(loc)
    if model is None:
        return ""
    close = difflib.get_close_matches(str(loc[-1]), list(model.model_fields), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else f"; valid keys: {', '.join(model.model_fields)}"


def _rule_label(data: object, loc: tuple) -> str:
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int) and isinstance(data, dict):
        rules = data.get("rules")
        if isinstance(rules, list) and loc[1] < len(rules) and isinstance(rules[loc[1]], dict):
            return f"rule {rules[loc[1]].get('id', '#' + str(loc[1] + 1))!s}: "
    return ""


def parse_mapping(text: str, filename: str = "<mapping>", *, base_dir: Path | None = None,
                  providers: Collection[str] | None = None) -> MappingFile:
    """The mapping in `text`, or MappingError with every problem located. Template paths are resolved
    against `base_dir` (default: the folder of `filename`); `providers`, the provider names a rule may use
    (None: any well-formed name)."""
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise MappingError([MappingProblem(filename, line, column, f"invalid YAML: {exc.problem}")]) from None
    except yaml.YAMLError as exc:  # e.g. a control character, which has no mark
        raise MappingError([MappingProblem(filename, 1, 1, f"invalid YAML: {exc}".splitlines()[0])]) from None
    if not isinstance(data, dict):
        raise MappingError([MappingProblem(filename, 1, 1, "expected a mapping with a 'rules:' list")])
    try:
        mapping = MappingFile.model_validate(data, context={"providers": providers})
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            tagged = tuple(error["loc"])
            loc = _without_tags(tagged)
            bad_key = loc[-1:] == ("[key]",)  # pydantic's marker for a dict key that failed validation
            loc = loc[:-1] if bad_key else loc
            node = _node_at(root, loc, want_key=bad_key or error["type"] == "extra_forbidden")
            line, column = (node.start_mark.line + 1, node.start_mark.column + 1) if node else (1, 1)
            where = _as_written(root, loc)
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = f"unknown key {loc[-1]!r}{_suggestion(tagged)}"
            prefix = f"{_rule_label(data, loc)}{where}: " if where else ""
            problems.append(MappingProblem(filename, line, column, f"{prefix}{message}"))
        raise MappingError(problems) from None
    folder = base_dir if base_dir is not None else Path(filename).parent
    problems = [MappingProblem(filename, *_position(root, found.loc, found.at_key),
                               f"rule {mapping.rules[found.loc[1]].id}: {_as_written(root, found.loc)}: "
                               f"{found.message}")
                for found in check_rule_references(mapping, folder)]
    if problems:
        raise MappingError(problems)
    mapping._revision = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return mapping


def _position(root: yaml.Node | None, loc: tuple, at_key: bool = False) -> tuple[int, int]:
    node = _node_at(root, loc, want_key=at_key)
    return (node.start_mark.line + 1, node.start_mark.column + 1) if node else (1, 1)


def locate(text: str, loc: tuple, *, at_key: bool = False) -> tuple[int, int]:
    """Line and column (1-based) of the value (or key) at `loc` in a mapping file's text."""
    return _position(yaml.compose(text), loc, at_key)


def load_mapping(path: Path, providers: Collection[str] | None = None) -> MappingFile:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingError([MappingProblem(str(path), 1, 1, f"cannot read mapping file: {exc.strerror}")]) from None
    return parse_mapping(text, str(path), base_dir=path.parent, providers=providers)
