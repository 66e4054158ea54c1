"""Reading scenario files, with every problem located by line, column and field path.

Loading runs in two passes, each bounded (:mod:`.bounds`: file size, values as written
and after expanding aliases, nesting depth) before any value is built:

1. YAML is composed into nodes (so each value keeps its position) and turned into
   plain data by :func:`read_yaml`, which records where each key or list item was
   written (``positions[('goroutines', 0, 'name')] == (line, column)``) and
   reports duplicate keys.
2. The data is validated by the pydantic models; each pydantic error's ``loc`` is
   mapped back onto the data (dropping the union tags pydantic adds) and then onto
   the nearest recorded position.

Any failure, from a missing file to a spawn cycle, raises
:class:`~simstack.errors.ScenarioError` listing all problems found.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from ..errors import Problem, ScenarioError, did_you_mean, format_path
from .bounds import MAX_BYTES, TOO_BIG, BoundedComposer, TooLarge, check_expansion
from .model import Scenario
from .schema import keys_at

Positions = dict[tuple, tuple[int, int]]
_MERGE, _BOOL = "tag:yaml.org,2002:merge", "tag:yaml.org,2002:bool"


class _Loader(BoundedComposer, yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans (only true/false, so ``gogc: off`` stays the string 'off'),
    composing within the bounds of :mod:`.bounds`."""

    yaml_implicit_resolvers = {first: [(tag, rx) for tag, rx in resolvers if tag != _BOOL]
                               for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}


_Loader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def _file_error(source: str, message: str) -> ScenarioError:
    """A problem with the file as a whole (no line, no field)."""
    return ScenarioError.single(source, None, None, "", message)


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate the scenario file at ``path``."""
    source = str(path)
    p = Path(path)
    if p.is_dir():
        raise _file_error(source, "is a directory, expected a scenario YAML file")
    try:
        with p.open("rb") as f:
            raw = f.read(MAX_BYTES + 1)  # never more, whatever the file is (a device, a FIFO, a huge log)
    except FileNotFoundError:
        raise _file_error(source, "no such file") from None
    except OSError as e:
        raise _file_error(source, f"cannot read the file: {e.strerror or e}") from None
    if len(raw) > MAX_BYTES:
        raise _file_error(source, f"is larger than 4 MiB; {TOO_BIG}")
    if b"\0" in raw:
        raise _file_error(source, "is a binary file (it contains NUL bytes), expected YAML text")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise _file_error(source, f"is not UTF-8 text (byte 0x{raw[e.start]:02x} at offset {e.start}), "
                                  "expected YAML text") from None
    return parse_scenario(text, source)


def parse_scenario(text: str, source: str = "<string>") -> Scenario:
    """Validate scenario YAML given as text; ``source`` names it in messages."""
    if len(text) > MAX_BYTES // 4 and len(text.encode("utf-8")) > MAX_BYTES:
        raise _file_error(source, f"is larger than 4 MiB; {TOO_BIG}")
    data, positions, problems = read_yaml(text, source)
    return _validate(data, positions, source, problems)


def scenario_from_dict(d: Any, source: str = "<dict>") -> Scenario:
    """Validate scenario data already parsed (e.g. ``Scenario.to_yaml_dict()``); no line numbers."""
    return _validate(d, {}, source, [])


def read_yaml(text: str, source: str) -> tuple[Any, Positions, list[Problem]]:
    """Plain data, key positions and duplicate-key problems of one YAML document."""
    positions: Positions = {}
    problems: list[Problem] = []
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            if node is not None:
                check_expansion(node)
            data = None if node is None else _construct(node, (), loader, positions, problems, source, set())
        finally:
            loader.dispose()
    except yaml.YAMLError as e:
        raise ScenarioError([_yaml_problem(e, text, source)]) from None
    except TooLarge as e:
        where = (e.mark.line + 1, e.mark.column + 1) if e.mark is not None else (None, None)
        raise ScenarioError([Problem(source, *where, format_path(e.path), e.message)]) from None
    if node is None:
        raise _file_error(source, "the file is empty; expected a scenario mapping with 'goroutines'")
    return data, positions, problems


def _mark(node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _construct(node, path: tuple, loader, positions: Positions, problems: list, source: str, active: set) -> Any:
    """Build plain data from ``node``, recording positions under ``path``."""
    positions.setdefault(path, _mark(node))
    if id(node) in active:
        problems.append(Problem(source, *_mark(node), format_path(path), "recursive YAML alias"))
        return None
    active = active | {id(node)}
    if isinstance(node, SequenceNode):
        return [_construct(item, path + (i,), loader, positions, problems, source, active)
                for i, item in enumerate(node.value)]
    if not isinstance(node, MappingNode):
        try:
            return loader.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, TypeError, OverflowError):  # e.g. '!!int 248B'
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            known = node.tag in loader.yaml_constructors
            problems.append(Problem(source, *_mark(node), format_path(path),
                                    f"expected a value its tag {tag} can read, got {node.value!r}" if known else
                                    f"unknown tag {tag}; scenario files use plain YAML values"))
            return None
    first_line: dict[str, int] = {}
    for key, _ in node.value:
        if isinstance(key, ScalarNode) and key.tag != _MERGE:
            if key.value in first_line:
                problems.append(Problem(source, *_mark(key), format_path(path + (key.value,)),
                                        f"duplicate key {key.value!r} (first given on line {first_line[key.value]})"))
            first_line.setdefault(key.value, _mark(key)[0])
    loader.flatten_mapping(node)  # resolve '<<' merge keys; own keys come last and win
    out = {}
    for key, value in node.value:
        if not isinstance(key, ScalarNode):
            problems.append(Problem(source, *_mark(key), format_path(path), "mapping keys must be plain names"))
            continue
        positions[path + (key.value,)] = _mark(key)
        out[key.value] = _construct(value, path + (key.value,), loader, positions, problems, source, active)
    return out


def _yaml_problem(e: yaml.YAMLError, text: str, source: str) -> Problem:
    """A YAML syntax error as a Problem, with a hint when tabs are the cause."""
    if isinstance(e, yaml.reader.ReaderError):  # a character YAML does not allow
        line_start = text.rfind("\n", 0, e.position) + 1
        return Problem(source, text.count("\n", 0, e.position) + 1, e.position - line_start + 1, "",
                       f"YAML syntax error: character {chr(e.character)!r} is not allowed in YAML")
    mark = getattr(e, "problem_mark", None)
    context, problem = getattr(e, "context", None), getattr(e, "problem", None) or str(e)
    message = f"YAML syntax error: {context + ', ' if context else ''}{problem}"
    if mark is None:
        return Problem(source, None, None, "", message)
    line = text.splitlines()[mark.line] if mark.line < len(text.splitlines()) else ""
    if "\t" in message or "\t" in line[: len(line) - len(line.lstrip())]:
        message += "; tabs are not allowed for indentation, use spaces"
    return Problem(source, mark.line + 1, mark.column + 1, "", message)


def _validate(data: Any, positions: Positions, source: str, problems: list[Problem]) -> Scenario:
    pseudo = source.startswith("<") and source.endswith(">")
    if not isinstance(data, dict):
        problems.append(located(source, (), positions,
                                f"expected a mapping of scenario fields at the top level, got {_describe(data)}"))
        raise ScenarioError(problems)
    try:
        scenario = Scenario.model_validate(data, context={"name": None if pseudo else Path(source).stem})
    except ValidationError as e:
        reported = {p.path for p in problems}  # a value YAML could not read is reported once, not again as null
        raise ScenarioError(problems + [p for err in e.errors(include_url=False)
                                        for p in _problems(err, data, positions, source)
                                        if p.path not in reported]) from None
    if problems:
        raise ScenarioError(problems)
    scenario._source = None if pseudo else source
    scenario._positions = positions
    return scenario


def _problems(err: dict, data: Any, positions: Positions, source: str) -> list[Problem]:
    """One pydantic error as Problems (a 'scenario' error carries several)."""
    path = _data_path(err["loc"], data, keep_last=err["type"] == "missing")
    if err["type"] == "scenario":
        return [located(source, path + tuple(rel), positions, msg) for rel, msg in err["ctx"]["problems"]]
    return [located(source, path, positions, _message(err, path))]


def _data_path(loc: tuple, data: Any, keep_last: bool) -> tuple:
    """``loc`` without the parts pydantic adds that are not in the data (union tags, '[key]')."""
    path, node = [], data
    for k, part in enumerate(loc):
        if isinstance(node, dict) and part in node or (isinstance(node, list) and isinstance(part, int)
                                                        and 0 <= part < len(node)):
            path.append(part)
            node = node[part]
        elif keep_last and k == len(loc) - 1:
            path.append(part)
    return tuple(path)


def located(source: str, path: tuple, positions: Positions, message: str, kind: type[Problem] = Problem) -> Problem:
    """A Problem (or ``kind``, e.g. a ScenarioWarning) at the position of ``path`` or of its nearest
    recorded ancestor."""
    for k in range(len(path), -1, -1):
        if path[:k] in positions:
            return kind(source, *positions[path[:k]], format_path(path), message)
    return kind(source, None, None, format_path(path), message)


_EXPECTED = {
    "int_type": "an integer", "int_parsing": "an integer", "int_from_float": "an integer",
    "float_type": "a number", "float_parsing": "a number", "bool_type": "true or false",
    "bool_parsing": "true or false", "string_type": "a string", "list_type": "a list",
    "dict_type": "a mapping", "model_type": "a mapping", "model_attributes_type": "a mapping",
}
_BOUNDS = {"greater_than": ("gt", ">"), "greater_than_equal": ("ge", ">="), "less_than": ("lt", "<"),
           "less_than_equal": ("le", "<=")}


def _message(err: dict, path: tuple) -> str:
    kind, ctx, got = err["type"], err.get("ctx", {}), _describe(err.get("input"))
    if kind == "value_error":
        return str(ctx["error"])
    if kind == "missing":
        return f"missing required field {path[-1]!r}"
    if kind == "extra_forbidden":
        allowed = keys_at(path[:-1])
        return f"unknown field {path[-1]!r}" + (did_you_mean(path[-1], allowed)
                                                 or f"; expected one of: {', '.join(sorted(allowed))}")
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {got}"
    if kind in _BOUNDS:
        key, op = _BOUNDS[kind]
        return f"expected a value {op} {ctx[key]}, got {got}"
    if kind == "too_short":
        n = ctx["min_length"]
        return f"expected at least {n} {'entry' if n == 1 else 'entries'}, got {ctx['actual_length'] or 'none'}"
    return f"{err['msg']}, got {got}"


def _describe(v: Any) -> str:
    """A value as the user wrote it, in YAML terms."""
    if isinstance(v, bool) or v is None:
        return {True: "true", False: "false", None: "null"}[v]
    if isinstance(v, dict):
        return "a mapping"
    if isinstance(v, list):
        return "a list"
    return repr(v)
