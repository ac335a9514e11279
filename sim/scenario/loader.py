"""Load scenario files: safe YAML with line marks, ``extends:``, provenance and overrides.

Reading goes through PyYAML's *composer* only (no object construction beyond plain scalars),
so no tag can build a Python object, and every key keeps the line and column it came from;
validation errors are then reported against the file, line and key that caused them.

Provenance: a value may be written ``{value: 3, source: "verbatim quote"}`` or
``{value: 3, assumption: "one-line reason"}``; a mapping may also carry ``source:`` or
``assumption:`` beside its keys, which then covers its direct scalar values. Notes are taken
out of the data before validation and kept in a ``Provenance`` table that
``sim check --assumptions`` prints.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import typing
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path
from types import UnionType
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from sim.errors import Problem, ScenarioError, not_found
from sim.safety import UnsafeFileError, read_limited
from sim.scenario.schema import Prior, Scenario, reference_errors

NOTE_KEYS = ("source", "assumption")
MAX_FILE_BYTES = 5_000_000
MAX_NODES = 50_000  # a large scenario has a few thousand
MAX_DEPTH = 32  # a scenario nests about 8 deep
ALLOWED_TAGS = {f"tag:yaml.org,2002:{t}" for t in
                ("str", "int", "float", "bool", "null", "timestamp", "map", "seq")}
PathKey = tuple[str | int, ...]
_YAML11_OCTAL = re.compile(r"^[-+]?0[0-7_]+$")
MAX_SET_CHARS = 10_000  # one --set value; a whole scenario has its own MAX_FILE_BYTES


@dataclass(frozen=True)
class Note:
    """Where a value comes from: a quote from the seed article, or a stated assumption."""

    kind: str  # "source" | "assumption" | "override"
    text: str
    file: str
    line: int | None
    #: the stated assumption beside a source quote (a value may carry both: the quote says
    #: what was reported, the assumption how it became this number); None otherwise
    assumption: str | None = None


@dataclass
class LoadedScenario:
    """A validated scenario with everything needed to explain and reproduce it.

    Attributes:
        spec: The validated scenario.
        data: The resolved plain data (after ``extends`` and overrides, notes removed).
        notes: Provenance per key path (a note on a mapping is stored at the mapping's path).
        marks: (file, line, column) per key path, for error messages.
        path: The file loaded.
        overrides: The ``--set`` overrides applied, in order.
        uncertain: Values written with a ``range`` or ``prior`` (their point value is in
            ``data``), by key path; ``sim run --uncertain`` draws them per run.
    """

    spec: Scenario
    data: dict[str, Any]
    notes: dict[PathKey, Note]
    marks: dict[PathKey, tuple[str, int, int]]
    path: Path | None
    overrides: list[str] = field(default_factory=list)
    uncertain: dict[PathKey, Prior] = field(default_factory=dict)

    @property
    def slug(self) -> str:
        """File stem, used for default output folders."""
        stem = re.sub(r"[^\w-]+", "_", self.path.stem).strip("_") if self.path else ""
        return stem or "scenario"  # never '..' or '' (a file named '...yaml')

    def digest(self) -> str:
        """SHA-256 of the resolved data: two runs with equal digests ran the same scenario."""
        text = json.dumps(self.data, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def provenance(self) -> list[tuple[str, Any, Note | None]]:
        """Every numeric, boolean and date value with the note that covers it (or None).

        A noted mapping of names only (a red line) is one row, its names as the value; a note
        with a quote and an assumption is kind "source" with ``Note.assumption`` set.
        """
        rows = []
        for key, value in _leaves(self.data, noted=set(self.notes)):
            rows.append((format_path(key), value, self.note_for(key)))
        return rows

    def note_for(self, key: PathKey) -> Note | None:
        """The note on the value itself, else on the mapping that holds it."""
        return self.notes.get(key) or self.notes.get(key[:-1])


def format_path(key: PathKey) -> str:
    """``('actors', 'a', 'actions', 0, 'verb')`` -> ``actors.a.actions[0].verb``."""
    out = ""
    for part in key:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse_path(text: str) -> PathKey:
    """Inverse of ``format_path``."""
    parts: list[str | int] = []
    for chunk in text.split("."):
        name, *indices = chunk.split("[")
        if name:
            parts.append(name)
        for index in indices:
            parts.append(int(index.rstrip("]")))
    return tuple(parts)


def _leaves(data: Any, key: PathKey = (), noted: set[PathKey] | frozenset = frozenset()):
    """Every numeric, boolean and date value, as ``(key path, value)``.

    With ``noted``, also each noted mapping that holds none (a red line is names only:
    author, offender, objective), as one row whose value is its names, so its quote is
    counted and listed too.
    """
    if isinstance(data, dict):
        if key in noted and next(_leaves(data), None) is None:
            yield key, ", ".join(f"{k}: {v}" for k, v in data.items()
                                 if isinstance(v, str | int | float))
            return
        for k, v in data.items():
            yield from _leaves(v, (*key, k), noted)
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from _leaves(v, (*key, i), noted)
    elif isinstance(data, bool | int | float) or hasattr(data, "isoformat"):
        yield key, data


# --------------------------------------------------------------------------- YAML reading


class _Reader:
    """Turn a composed YAML node tree into plain data, marks and notes, with limits."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.marks: dict[PathKey, tuple[str, int, int]] = {}
        self.notes: dict[PathKey, Note] = {}
        self.problems: list[Problem] = []
        self._count = 0
        self._scalars = yaml.SafeLoader("")

    def problem(self, key: PathKey, message: str, node: yaml.Node | None) -> None:
        line = node.start_mark.line + 1 if node is not None else None
        col = node.start_mark.column + 1 if node is not None else None
        self.problems.append(Problem(self.file, format_path(key), message, line, col))

    def read(self, node: yaml.Node, key: PathKey = (), depth: int = 0) -> Any:
        self._count += 1
        if self._count > MAX_NODES:
            raise ScenarioError([Problem(self.file, format_path(key),
                                         f"more than {MAX_NODES} YAML nodes (alias bomb?)")])
        if depth > MAX_DEPTH:
            raise ScenarioError([Problem(self.file, format_path(key),
                                         f"nesting deeper than {MAX_DEPTH} levels",
                                         node.start_mark.line + 1, node.start_mark.column + 1)])
        self.marks.setdefault(key, (self.file, node.start_mark.line + 1,
                                    node.start_mark.column + 1))
        if node.tag not in ALLOWED_TAGS:
            self.problem(key, f"cannot read this value: the tag '{node.tag}' is not allowed "
                         "(scenarios hold plain numbers, text, true/false, dates, lists and "
                         "mappings)", node)
            return None
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, key, depth)
        if isinstance(node, yaml.SequenceNode):
            return [self.read(item, (*key, i), depth + 1) for i, item in enumerate(node.value)]
        try:
            return self.scalar(node)
        except (ValueError, OverflowError) as exc:  # 2031-02-30: matches YAML's date form
            self.problem(key, f"'{node.value}' is not a valid date ({exc}); write a real "
                         "date as YYYY-MM-DD", node)
            return None
        except yaml.YAMLError as exc:
            self.problem(key, f"cannot read this value ({getattr(exc, 'problem', exc)}); "
                         "use a plain number, string, true/false or date", node)
            return None

    def scalar(self, node: yaml.ScalarNode) -> Any:
        """A plain scalar read by YAML 1.2's rules, not PyYAML's YAML 1.1 ones.

        YAML 1.1 turns ``no``, ``off``, ``y`` into false, ``190:20:30`` into 685230 and ``010``
        into 8: an actor id ``no`` would become ``False`` and a time-like value a number.
        Only ``true``/``false`` are booleans here; a sexagesimal or leading-zero octal is text
        (a numeric key then says it is not a number).
        """
        if node.style is None and isinstance(node, yaml.ScalarNode):
            text = node.value
            if node.tag.endswith(":bool") and text.lower() not in ("true", "false"):
                return text
            if node.tag.endswith((":int", ":float")) and (
                    ":" in text or _YAML11_OCTAL.match(text)):
                return text
        return self._scalars.construct_object(node)

    def _mapping(self, node: yaml.MappingNode, key: PathKey, depth: int) -> Any:
        out: dict[str, Any] = {}
        value_nodes: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                self.problem(key, "YAML merge keys (<<) are not supported; write the values "
                             "out, or use extends: for a whole scenario", key_node)
                continue
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in ALLOWED_TAGS:
                self.problem(key, "a key must be a plain name", key_node)
                continue
            try:
                name = str(self.scalar(key_node))
            except (ValueError, OverflowError):
                name = str(key_node.value)  # a key is a name; '2031-02-30' is just text
            if name in out or name in value_nodes:
                first = value_nodes[name].start_mark.line + 1
                self.problem((*key, name), f"duplicate key (first given on line {first}); "
                             "remove one of them", key_node)
                continue
            value_nodes[name] = value_node
            self.marks[(*key, name)] = (self.file, key_node.start_mark.line + 1,
                                        key_node.start_mark.column + 1)
            if name in NOTE_KEYS:
                continue
            out[name] = self.read(value_node, (*key, name), depth + 1)
        notes = [n for n in NOTE_KEYS if n in value_nodes]
        texts = {}
        for n in notes:
            text = self._scalars.construct_object(value_nodes[n])
            if not isinstance(text, str) or not text.strip():
                self.problem((*key, n), f"'{n}' must be a non-empty text", value_nodes[n])
                continue
            texts[n] = " ".join(text.split())
        if texts:  # both kept: the quote is the note, the assumption rides beside it
            kind = "source" if "source" in texts else "assumption"
            self.notes[key] = Note(kind, texts[kind], self.file,
                                   value_nodes[kind].start_mark.line + 1,
                                   texts.get("assumption") if kind == "source" else None)
        if notes and set(out) == {"value"} and not isinstance(out["value"], dict):
            return out["value"]  # an annotated scalar: {value: x, source: "..."}
        return out


def _prescan(text: str, file: str) -> None:
    """Reject hostile YAML before building anything: too deep, or too big once expanded.

    Walks PyYAML's event stream, which is produced without recursion, tracking nesting depth
    and the size each anchored node would have when an alias repeats it, so a "billion
    laughs" file or a 10,000-deep nest is refused in milliseconds with bounded memory.
    """
    depth = count = 0
    anchors: dict[str, int] = {}
    starts: list[tuple[str | None, int]] = []
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                count += anchors.get(event.anchor, 1)
            elif isinstance(event, yaml.ScalarEvent):
                count += 1
                if event.anchor:
                    anchors[event.anchor] = 1
            elif isinstance(event, yaml.CollectionStartEvent):
                count += 1
                depth += 1
                starts.append((event.anchor, count))
                if depth > MAX_DEPTH:
                    mark = event.start_mark
                    raise ScenarioError([Problem(file, "", f"nesting deeper than {MAX_DEPTH} "
                                                 "levels; a scenario needs about 8",
                                                 mark.line + 1, mark.column + 1)])
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
                anchor, start = starts.pop()
                if anchor:
                    anchors[anchor] = count - start + 1
            if count > MAX_NODES:
                mark = event.start_mark
                raise ScenarioError([Problem(file, "", f"more than {MAX_NODES} values once "
                                             "aliases are expanded (an alias bomb?); a "
                                             "scenario has a few thousand",
                                             mark.line + 1, mark.column + 1)])
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise ScenarioError([Problem(file, "", f"YAML syntax: {exc.problem}",
                                     mark.line + 1 if mark else None,
                                     mark.column + 1 if mark else None)]) from None
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        raise ScenarioError([Problem(file, "", f"character #x{exc.character:04x} is not "
                                     "allowed in YAML; remove it", line)]) from None
    except yaml.YAMLError as exc:
        raise ScenarioError([Problem(file, "", f"YAML syntax: {exc}")]) from None


def read_yaml(path: Path) -> tuple[Any, dict, dict]:
    """Read one YAML file safely; return (data, marks, notes) or raise ``ScenarioError``."""
    file = str(path)
    try:
        raw = read_limited(path, MAX_FILE_BYTES)  # never trusts st_size: /dev/zero, FIFOs
    except FileNotFoundError:
        raise ScenarioError([Problem(file, "", not_found(path))]) from None
    except UnsafeFileError as exc:
        hint = ("; a scenario is a few hundred lines" if "larger" in str(exc) else
                "; name a scenario file")
        raise ScenarioError([Problem(file, "", f"{exc}{hint}")]) from None
    except OSError as exc:
        raise ScenarioError([Problem(file, "", f"cannot read: {exc.strerror}")]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ScenarioError([Problem(file, "", f"not UTF-8 text (byte {exc.start}); "
                                     "save the file as UTF-8", line)]) from None
    data, marks, notes = parse_yaml_text(text, file)
    if not isinstance(data, dict):
        raise ScenarioError([Problem(file, "", "a scenario is a mapping of keys to values")])
    return data, marks, notes


def parse_yaml_text(text: str, file: str) -> tuple[Any, dict, dict]:
    """Parse YAML text with every protection of a scenario file; return (data, marks, notes).

    Used for scenario files and for ``--set`` values alike, so an alias bomb or a deep nest
    is refused wherever it is typed.
    """
    _prescan(text, file)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise ScenarioError([Problem(file, "", f"YAML syntax: {exc.problem}",
                                     mark.line + 1 if mark else None,
                                     mark.column + 1 if mark else None)]) from None
    except yaml.YAMLError as exc:
        raise ScenarioError([Problem(file, "", f"YAML syntax: {exc}")]) from None
    if node is None:
        raise ScenarioError([Problem(file, "", "the file is empty")])
    reader = _Reader(file)
    data = reader.read(node)
    if reader.problems:
        raise ScenarioError(reader.problems)
    return data, reader.marks, reader.notes


# --------------------------------------------------------------------------- extends / merge


def _merge(base: Any, child: Any) -> Any:
    """Deep-merge mappings; anything else in the child replaces the base's value."""
    if isinstance(base, dict) and isinstance(child, dict):
        out = dict(base)
        for k, v in child.items():
            out[k] = _merge(base[k], v) if k in base else v
        return out
    return child


def merge_edits(data: dict, edits: dict) -> dict:
    """A copy of ``data`` with a counterfactual's ``edits`` merged in, as ``extends:`` does.

    The one definition of a counterfactual's edit (files that extend a base, and the options
    of a sweep's levers): mappings merge key by key, anything else replaces the base's value.
    """
    return _merge(json.loads(json.dumps(data, default=str)), json.loads(json.dumps(
        edits, default=str)))


def _read_with_bases(path: Path, seen: tuple[Path, ...] = ()) -> tuple[dict, dict, dict]:
    path = path.resolve() if path.exists() else path
    if path in seen:
        chain = " -> ".join(str(p) for p in (*seen, path))
        raise ScenarioError([Problem(str(path), "extends", f"extends itself: {chain}")])
    data, marks, notes = read_yaml(path)
    base_name = data.pop("extends", None)
    if base_name is None:
        return data, marks, notes
    if not isinstance(base_name, str):
        line = marks.get(("extends",), (None, None, None))[1]
        raise ScenarioError([Problem(str(path), "extends", "must name one scenario file", line)])
    base_path = (path.parent / base_name)
    if not base_path.exists():
        line = marks.get(("extends",), (None, None, None))[1]
        raise ScenarioError([Problem(str(path), "extends",
                                     f"base file '{base_name}' not found next to this file", line)])
    base_data, base_marks, base_notes = _read_with_bases(base_path, (*seen, path))
    merged = _merge(base_data, data)
    return merged, {**base_marks, **marks}, {**base_notes, **notes}


# --------------------------------------------------------------------------- overrides


def _unwrap(annotation: Any) -> Any:
    """Strip Annotated/Optional wrappers from a type annotation."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


def _field_names(model: type[BaseModel]) -> dict[str, str]:
    """YAML key -> attribute name for a schema model (aliases such as 'from' included)."""
    names = {}
    for name, info in model.model_fields.items():
        names[info.alias or name] = name
    return names


def check_override_path(data: dict, key: PathKey) -> str | None:
    """Return why ``key`` is not a settable scenario path, or None if it is.

    The walk follows the schema: at a model, the key must be one of its fields; at a
    collection keyed by id (actors, nodes, ...), the id must exist in the scenario; at a
    list, the index must be in range. Messages offer the closest valid name.
    """
    node: Any = data
    annotation: Any = Scenario
    for depth, part in enumerate(key):
        annotation = _unwrap(annotation)
        where = format_path(key[:depth]) or "the scenario"
        origin = typing.get_origin(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            fields = _field_names(annotation)
            if part not in fields:
                close = get_close_matches(str(part), list(fields), n=1)
                hint = f"; did you mean '{close[0]}'?" if close else f"; keys: {sorted(fields)}"
                return f"'{part}' is not a key of {where}{hint}"
            annotation = annotation.model_fields[fields[part]].annotation
            node = node.get(part) if isinstance(node, dict) else None
        elif origin is dict:
            keys = list(node) if isinstance(node, dict) else []
            if part not in keys:
                close = get_close_matches(str(part), [str(k) for k in keys], n=1)
                hint = f"; did you mean '{close[0]}'?" if close else f"; known: {keys}"
                return f"no '{part}' in {where}{hint}"
            annotation = typing.get_args(annotation)[1]
            node = node[part]
        elif origin is list:
            if not isinstance(part, int) or not isinstance(node, list) or not (
                0 <= part < len(node)
            ):
                size = len(node) if isinstance(node, list) else 0
                return f"{where} is a list of {size}; use an index [0]..[{size - 1}]"
            annotation = typing.get_args(annotation)[0]
            node = node[part]
        else:
            return f"{where} is a single value; it has no '{part}'"
    return None


def _set_path(data: dict, key: PathKey, value: Any) -> None:
    node: Any = data
    for part in key[:-1]:
        node = node.setdefault(part, {}) if isinstance(node, dict) else node[part]
    node[key[-1]] = value


def parse_override(text: str) -> tuple[PathKey, Any]:
    """Parse ``PATH=VALUE`` (the value read as a YAML scalar, list or mapping)."""
    if "=" not in text:
        raise ScenarioError([Problem("<command line>", text[:80], "write overrides as "
                                     "PATH=VALUE")])
    path_text, value_text = text.split("=", 1)
    if not path_text.strip():
        raise ScenarioError([Problem("<command line>", "", f"'{text[:80]}': the key path "
                                     "before '=' is missing; write PATH=VALUE, e.g. "
                                     "run.days=90")])
    if len(value_text) > MAX_SET_CHARS:
        raise ScenarioError([Problem("<command line>", path_text[:80], f"value longer than "
                                     f"{MAX_SET_CHARS} characters; put it in the scenario "
                                     "file")])
    value = _override_value(value_text, path_text[:80])
    try:
        return parse_path(path_text.strip()), value
    except ValueError:
        raise ScenarioError([Problem("<command line>", path_text[:80], "malformed path")]
                            ) from None


def _override_value(text: str, where: str) -> Any:
    """A ``--set`` value read with the limits and YAML 1.2 rules of a scenario file.

    A value that is not valid YAML is taken as plain text (``name=a: b``); one that is too
    deep or expands too far (an alias bomb) is refused, as it would be in a file.
    """
    if not text.strip():
        return ""
    try:
        value, _, _ = parse_yaml_text(text, "<command line>")
    except ScenarioError as exc:
        if all(p.message.startswith(("YAML syntax", "character")) for p in exc.problems):
            return text
        raise ScenarioError([Problem("<command line>", where, p.message)
                             for p in exc.problems]) from None
    return value


def apply_overrides(data: dict, overrides: list[str]) -> tuple[dict, list[Problem]]:
    """Apply ``--set`` overrides to a copy of ``data``; return it and the problems found."""
    data = json.loads(json.dumps(data, default=str))  # a deep copy of plain data
    problems = []
    for text in overrides:
        key, value = parse_override(text)
        why = check_override_path(data, key)
        if why:
            problems.append(Problem("<command line>", format_path(key), why))
            continue
        _set_path(data, key, value)
    return data, problems


# --------------------------------------------------------------------------- validation


def validation_problems(exc: ValidationError, marks: dict, default_file: str,
                        known_keys=None) -> list[Problem]:
    """Pydantic's errors as located one-line problems, with a did-you-mean for unknown keys.

    Args:
        exc: The validation error.
        marks: Key path -> (file, line, column), from the safe reader.
        default_file: File named when a key has no mark.
        known_keys: Key path -> field names allowed there (default: the scenario schema's);
            other strict files (observations) pass their own.
    """
    known_keys = known_keys or _known_keys
    problems = []
    for err in exc.errors():
        key: PathKey = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
        file, line, col = _locate(key, marks, default_file)
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            known = known_keys(key[:-1])
            close = get_close_matches(str(key[-1]), known, n=1)
            message = "unknown key" + (f"; did you mean '{close[0]}'?" if close else
                                       (f"; allowed: {', '.join(sorted(known))}" if known else ""))
        elif err["type"] == "missing":
            message = "required key is missing; add it"
        elif "input" in err and err["type"].startswith(_NUMBER_CHECKS) \
                and _not_finite(err["input"]):
            # a bound or a type check would name the bound, as if nan were merely too small
            message = f"not a finite number (got {err['input']!r}); write a number"
        elif "input" in err and not isinstance(err["input"], dict | list):
            message += f" (got {err['input']!r})"
        problems.append(Problem(file, format_path(key), message, line, col))
    return problems


#: pydantic's error types of a number's checks (its bounds, its type, its finiteness)
_NUMBER_CHECKS = ("greater_than", "less_than", "finite_number", "float_", "int_", "multiple_of")


def _not_finite(value: Any) -> bool:
    """Whether a value is NaN or infinite, or text that reads as one ('nan', '-inf', ...)."""
    if isinstance(value, bool) or not isinstance(value, float | int | str):
        return False
    try:
        return not math.isfinite(float(value))
    except (ValueError, OverflowError):
        return False


def _known_keys(key: PathKey) -> list[str]:
    """Field names of the schema model found at ``key`` (empty if it is not a model)."""
    annotation: Any = Scenario
    for part in key:
        annotation = _unwrap(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            fields = _field_names(annotation)
            if part not in fields:
                return []
            annotation = annotation.model_fields[fields[part]].annotation
        elif typing.get_origin(annotation) in (dict, list):
            annotation = typing.get_args(annotation)[-1]
        else:
            return []
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return list(_field_names(annotation))
    return []


def _locate(key: PathKey, marks: dict, default_file: str) -> tuple[str, int | None, int | None]:
    for depth in range(len(key), -1, -1):
        if key[:depth] in marks:
            return marks[key[:depth]]
    return default_file, None, None


def validate(data: dict, marks: dict, notes: dict, path: Path | None,
             overrides: list[str] | None = None) -> LoadedScenario:
    """Validate plain scenario data; raise ``ScenarioError`` listing every problem."""
    file = str(path) if path else "<scenario>"
    overrides = list(overrides or [])
    data, uncertain, problems = extract_uncertain(data, marks, file)
    if problems:
        raise ScenarioError(problems)
    data, problems = apply_overrides(data, overrides)
    if problems:
        raise ScenarioError(problems)
    marks = dict(marks)
    for text in overrides:  # a problem with a --set value is reported on the command line
        key = parse_override(text)[0]
        for mark in [m for m in marks if m[:len(key)] == key]:
            del marks[mark]
        marks[key] = ("<command line>", None, None)
        uncertain.pop(key, None)  # a value set on the command line is no longer uncertain
    try:
        spec = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(validation_problems(exc, marks, file)) from None
    from sim.outcomes import outcome_problems  # late import: outcomes depend on the layout

    # references first: outcome checks compile the scenario, which needs valid references
    for check in (reference_errors, outcome_problems):
        problems = []
        for key, message in check(spec):
            located, line, column = _locate(parse_path(key), marks, file)
            problems.append(Problem(located, key, message, line, column))
        if problems:
            raise ScenarioError(problems)
    for text in overrides:
        key, _ = parse_override(text)
        notes[key] = Note("override", f"--set {text}", "<command line>", None)
    return LoadedScenario(spec=spec, data=data, notes=notes, marks=marks, path=path,
                          overrides=overrides, uncertain=uncertain)


UNCERTAIN_KEYS = ("range", "prior")


def extract_uncertain(data: Any, marks: dict, file: str) -> tuple[Any, dict, list[Problem]]:
    """Take ``{value: x, range: [lo, hi]}`` and ``{value: x, prior: {...}}`` out of the data.

    Each becomes its point value ``x`` in the data (so everything downstream sees a plain
    scenario) and a ``Prior`` in the returned table. The value must be a number inside the
    prior's support (a range or prior that excludes the value written is a contradiction).
    """
    uncertain: dict[PathKey, Prior] = {}
    problems: list[Problem] = []

    def problem(key: PathKey, message: str) -> None:
        located, line, column = _locate(key, marks, file)
        problems.append(Problem(located, format_path(key), message, line, column))

    def walk(node: Any, key: PathKey) -> Any:
        if isinstance(node, list):
            return [walk(v, (*key, i)) for i, v in enumerate(node)]
        if not isinstance(node, dict):
            return node
        if "value" in node and set(node) <= {"value", *UNCERTAIN_KEYS} and len(node) > 1:
            value = node["value"]
            if "range" in node and "prior" in node:
                problem(key, "give a 'range' or a 'prior', not both")
                return value
            if isinstance(value, bool) or not isinstance(value, int | float):
                problem((*key, "value"), f"only numbers can be uncertain (got {value!r})")
                return value
            if "range" in node:
                rng = node["range"]
                if (not isinstance(rng, list) or len(rng) != 2 or any(
                        isinstance(x, bool) or not isinstance(x, int | float) for x in rng)):
                    problem((*key, "range"), "write range: [low, high] with two numbers")
                    return value
                raw = {"dist": "uniform", "low": rng[0], "high": rng[1]}
                where = (*key, "range")
            else:
                raw, where = node["prior"], (*key, "prior")
            try:
                prior = Prior.model_validate(raw)
            except ValidationError as exc:
                for err in exc.errors():
                    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
                    problem((*where, *loc), err["msg"].removeprefix("Value error, "))
                return value
            low, high = prior.support()
            if not low <= value <= high:
                problem(where, f"the value {value} lies outside the {prior.dist} prior's "
                        f"range [{low}, {high}]; the value written must be a possible draw")
                return value
            uncertain[key] = prior
            return value
        return {k: walk(v, (*key, k)) for k, v in node.items()}

    return walk(data, ()), uncertain, problems


def load_scenario(path: str | Path, overrides: list[str] | None = None) -> LoadedScenario:
    """Load, merge (``extends:``), override and validate a scenario file.

    Args:
        path: The YAML file.
        overrides: ``PATH=VALUE`` strings, applied in order after ``extends`` is resolved.

    Returns:
        The validated scenario with its provenance.

    Raises:
        ScenarioError: With one ``Problem`` per thing wrong, each located in its file.
    """
    path = Path(path)
    data, marks, notes = _read_with_bases(path)
    return validate(data, marks, notes, path, overrides)


def load_data(data: dict, overrides: list[str] | None = None) -> LoadedScenario:
    """Validate scenario data given as a Python mapping (tests, the app, sweeps)."""
    return validate(json.loads(json.dumps(data, default=str)), {}, {}, None, overrides)
