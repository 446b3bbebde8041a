"""Read a TOML document into msgspec Structs and report EVERY problem at once.

msgspec stops at the first error; a person fixing a config file wants the whole list, each
with its key path, the fix, and "did you mean" for a misspelt key or id (as Mopidy's config
schema does). This walker follows the Struct's own field types: tables become Structs, arrays
of tables become lists of Structs, a tagged union picks its Struct by the tag, and every leaf
value is checked with ``msgspec.convert`` against its annotated type (so the bounds written in
the Struct are the bounds enforced). Nothing here knows about any one section: fleet.toml's
own sections (``fleet.settings``), the web's (``fleet.web.settings``) and the escalation's
(``fleet.escalation.config``) all go through it, and their problems are listed together.
"""

from __future__ import annotations

import difflib
import tomllib
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import msgspec

#: Both spellings of a union: typing.Union[A, B] and A | B.
_UNIONS = (Union, types.UnionType)


@dataclass(frozen=True)
class Problem:
    path: str  # e.g. 'contacts[2] "ayse" → urls[1]'
    problem: str
    fix: str

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}\n  fix: {self.fix}" if self.path else f"{self.problem}\n  fix: {self.fix}"


class ConfigProblems(ValueError):
    """A config file has problems; ``problems`` lists every one, ``str()`` shows them all."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(f"{source}: {count}\n" + "\n".join(f"{source}: {problem}" for problem in problems))


def read_document(path: Path, example: str) -> dict[str, Any]:
    """The TOML table in *path*, or ConfigProblems saying why it cannot be read (*example*
    names a file to compare with)."""
    source = str(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise ConfigProblems(source, [Problem("", "file not found", "check the path (fleet config check FILE)")]) from None
    except IsADirectoryError:
        raise ConfigProblems(source, [Problem("", "this is a directory, not a file", "give the path of the fleet.toml file itself")]) from None
    except OSError as exc:
        raise ConfigProblems(source, [Problem("", f"cannot read the file ({exc.strerror})", "check the file's permissions: run as the fleet's user")]) from None
    except UnicodeDecodeError:
        raise ConfigProblems(source, [Problem("", "the file is not UTF-8 text", "save it as UTF-8")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigProblems(source, [Problem("", f"not valid TOML: {exc}", f"compare with {example}; text needs double quotes")]) from None


def did_you_mean(name: str, candidates) -> str:
    """' (did you mean "x"?)' for the closest candidate, or '' when none is close."""
    close = difflib.get_close_matches(name, [str(c) for c in candidates], n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""


def join(path: str, part: str) -> str:
    return f"{path} → {part}" if path else part


def item_path(path: str, name: str, index: int, value: Any) -> str:
    """'contacts[2] "ayse"': counted from one, named by its id when it has one (people recognise ids, not indexes)."""
    label = f"{name}[{index + 1}]"
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        label += f' "{value["id"]}"'
    return join(path, label)


class Walker:
    """Converts a document into *cls*, collecting problems instead of stopping at the first."""

    def __init__(self, hints: dict[str, str] | None = None) -> None:
        self.problems: list[Problem] = []
        self.hints = hints or {}

    def add(self, path: str, problem: str, fix: str) -> None:
        self.problems.append(Problem(path, problem, fix))

    def struct(self, value: Any, cls: type, path: str) -> Any:
        if not isinstance(value, dict):
            self.add(path, f"expected a table, got {_kind(value)}", "write it as a [table] (or an inline { ... })")
            return None
        fields = {field.encode_name: field for field in msgspec.structs.fields(cls)}
        tag_field = cls.__struct_config__.tag_field
        for key in value:
            if key not in fields and key != tag_field:
                self.add(join(path, key), f'unknown key "{key}"{did_you_mean(key, fields)}', f"remove it or correct the name; the keys allowed here are: {', '.join(fields)}")
        converted: dict[str, Any] = {}
        complete = True
        for name, field in fields.items():
            if name not in value:
                if field.required:
                    hint = self.hints.get(name)
                    self.add(path, f'missing key "{name}"', f'add {name} = ...' + (f": {hint}" if hint else ""))
                    complete = False
                continue
            result = self.value(value[name], field.type, path, name)
            if result is _BAD:
                complete = False
            else:
                converted[field.name] = result
        return cls(**converted) if complete else None

    def value(self, value: Any, kind: Any, parent: str, name: str) -> Any:
        path = join(parent, name)
        target = _unannotated(kind)
        origin = typing.get_origin(target)
        if _is_struct(target):
            result = self.struct(value, target, path)
            return _BAD if result is None else result
        if origin is list and _is_structish(typing.get_args(target)[0]):
            if not isinstance(value, list):
                self.add(path, f"expected an array of tables, got {_kind(value)}", f"write each entry as [[{name}]]")
                return _BAD
            element = typing.get_args(target)[0]
            items = [self.element(item, element, item_path(parent, name, i, item)) for i, item in enumerate(value)]
            return _BAD if any(item is _BAD for item in items) else items
        if origin in _UNIONS and all(_is_struct(arg) for arg in typing.get_args(target)):
            return self.tagged(value, typing.get_args(target), path)
        try:
            return msgspec.convert(value, kind)
        except msgspec.ValidationError as exc:
            problem = str(exc).split(" - at `")[0].replace("`", "")
            hint = self.hints.get(name)
            self.add(path, f"{problem} (got {value!r})", f"write {hint}" if hint else "correct the value (text needs double quotes, numbers none)")
            return _BAD

    def element(self, value: Any, kind: Any, path: str) -> Any:
        kind = _unannotated(kind)
        if _is_struct(kind):
            result = self.struct(value, kind, path)
            return _BAD if result is None else result
        return self.tagged(value, typing.get_args(kind), path)

    def tagged(self, value: Any, choices: tuple[type, ...], path: str) -> Any:
        tag_field = choices[0].__struct_config__.tag_field
        by_tag = {cls.__struct_config__.tag: cls for cls in choices}
        if not isinstance(value, dict):
            self.add(path, f"expected a table, got {_kind(value)}", "write it as a [[table]]")
            return _BAD
        tag = value.get(tag_field)
        if tag not in by_tag:
            self.add(join(path, tag_field), f"{tag_field} {tag!r} is not one of: {', '.join(by_tag)}{did_you_mean(str(tag), by_tag)}", f'add {tag_field} = "{next(iter(by_tag))}" (or another of those)')
            return _BAD
        result = self.struct(value, by_tag[tag], path)
        return _BAD if result is None else result


_BAD = object()


def _unannotated(kind: Any) -> Any:
    return typing.get_args(kind)[0] if typing.get_origin(kind) is typing.Annotated else kind


def _is_struct(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, msgspec.Struct)


def _is_structish(kind: Any) -> bool:
    kind = _unannotated(kind)
    return _is_struct(kind) or (typing.get_origin(kind) in _UNIONS and all(_is_struct(arg) for arg in typing.get_args(kind)))


def _kind(value: Any) -> str:
    return {dict: "a table", list: "an array", str: "text", bool: "true/false", int: "a number", float: "a number"}.get(type(value), type(value).__name__)
