"""Command-line flags generated from the config dataclasses, so a new config field always has a flag.

Every field of a config class becomes `--field-name`, typed from its annotation, with its help text taken
from the comment beside (or above) the field in config.py and its allowed values from the registries
(models, detectors, aggregations, meta models, ...). A command then builds its config in three layers:

    defaults  <  --config FILE (a saved config.json)  <  the field flags  <  --set key=value

so `train --config models/x/config.json` replays a run, and `--set key=value` changes one field of it.
Registries are read only when a value is checked or help is shown, so `--help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import re
import types
import typing
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, fields, replace
from pathlib import Path
from typing import Any, TypeVar

from deepfake_detection.config import from_dict

T = TypeVar("T")
NONE_WORDS = ("none", "null")  # how an optional field is set to None on the command line


class ConfigError(ValueError):
    """A setting the user gave cannot be used: an unknown field, a bad value, a missing or broken --config file."""


# --- allowed values ----------------------------------------------------------------------------
class Registry:
    """The names a registry allows: attributes of a module, imported on first use (the model registry imports
    Keras), plus any extra names."""

    def __init__(self, module: str, *attributes: str, extra: tuple[str, ...] = ()) -> None:
        self._module, self._attributes, self._extra = module, attributes, extra
        self._names: tuple[str, ...] | None = None

    @property
    def names(self) -> tuple[str, ...]:
        if self._names is None:
            module = importlib.import_module(self._module)
            self._names = tuple(n for a in self._attributes for n in getattr(module, a)) + self._extra
        return self._names

    def __contains__(self, value: object) -> bool:
        return value in self.names

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)


# Config field name -> the registry its values (or, for a tuple field, each element) must come from.
FIELD_CHOICES: dict[str, Registry] = {
    "model": Registry("deepfake_detection.models", "REGISTRY"),
    "normalization": Registry("deepfake_detection.models", "NORMALIZATIONS"),
    "imbalance": Registry("deepfake_detection.dataset", "IMBALANCE_STRATEGIES"),
    "augment": Registry("deepfake_detection.pipeline", "BATCH_AUGMENTATIONS", "PER_CROP_AUGMENTATIONS"),
    "resize": Registry("deepfake_detection.faces", "INTERPOLATIONS"),
    "detector": Registry("deepfake_detection.faces", "DETECTORS"),
    "aggregation": Registry("deepfake_detection.aggregate", "AGGREGATIONS"),
    "meta": Registry("deepfake_detection.ensemble", "META_MODELS"),
    "calibration": Registry("deepfake_detection.ensemble", "CALIBRATIONS", extra=("auto",)),  # auto: cross-fitted
}


# --- help text from config.py's comments --------------------------------------------------------
def field_help(cls: type) -> dict[str, str]:
    """Field name -> the comment on its line in the class source, else the comment lines just above it."""
    helps: dict[str, str] = {}
    above: list[str] = []
    for line in inspect.getsource(cls).splitlines()[1:]:
        stripped = line.strip()
        if stripped.startswith("#"):
            above.append(stripped.lstrip("#").strip())
            continue
        match = re.match(r"\s+(\w+)\s*:[^#]*?(?:#\s*(.*))?$", line)
        if match and not stripped.startswith(('"""', "'''")):
            helps[match.group(1)] = match.group(2) or " ".join(above)
        above = []
    return helps


# --- parsing one value ---------------------------------------------------------------------------
def _split_optional(hint: Any) -> tuple[Any, bool]:
    """(the type without None, whether None is allowed) for hints like `int | None`."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return (args[0] if len(args) == 1 else hint), len(args) < len(typing.get_args(hint))
    return hint, False


def _parse_bool(text: str) -> bool:
    words = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
    if text.lower() not in words:
        raise ValueError(f"expected true or false, got {text!r}")
    return words[text.lower()]


def _check_choice(name: str, value: Any) -> Any:
    registry = FIELD_CHOICES.get(name)
    if registry is not None and value not in registry:
        raise ConfigError(f"{value!r} is not one of {', '.join(registry)}")
    return value


def parse_value(cls: type, name: str, text: str) -> Any:
    """A field's value from command-line text: numbers, true/false, 'none' for an optional field, and comma-
    separated items for a tuple field (each item checked against the field's registry, if it has one)."""
    hints = typing.get_type_hints(cls)
    if name not in hints:
        known = ", ".join(f.name for f in fields(cls))
        raise ConfigError(f"{cls.__name__} has no field {name!r}; its fields: {known}")
    base, optional = _split_optional(hints[name])
    if optional and text.strip().lower() in NONE_WORDS:
        return None
    if typing.get_origin(base) is tuple:
        items = [part.strip() for part in text.split(",") if part.strip()]
        kinds = typing.get_args(base)
        if Ellipsis not in kinds and len(items) != len(kinds):  # a fixed-length tuple: one value per position
            raise ValueError(f"expected {len(kinds)} comma-separated values, got {text!r}")
        kinds = [kinds[0]] * len(items) if Ellipsis in kinds else kinds
        return tuple(_check_choice(name, _parse_scalar(k, part)) for k, part in zip(kinds, items, strict=True))
    return _check_choice(name, _parse_scalar(base, text))


def _parse_scalar(kind: Any, text: str) -> Any:
    if kind is bool:
        return _parse_bool(text)
    if kind in (int, float, str):
        return kind(text)
    if kind is Path:
        return Path(text)
    if typing.get_origin(kind) is tuple and Ellipsis not in typing.get_args(kind):  # a pair inside a list: 640x360
        parts, kinds = text.lower().split("x"), typing.get_args(kind)
        if len(parts) != len(kinds):
            raise ValueError(f"expected {len(kinds)} numbers joined by x (like 640x360), got {text!r}")
        return tuple(_parse_scalar(k, part.strip()) for k, part in zip(kinds, parts, strict=True))
    raise ValueError(f"cannot read a {kind} from the command line")


def _argparse_type(cls: type, name: str) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        try:
            return parse_value(cls, name, text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    convert.__name__ = name  # argparse names the type in its error message
    return convert


# --- flags and configs -------------------------------------------------------------------------
def dest(name: str) -> str:
    """Where argparse stores a field's flag: prefixed so a field never collides with a command's own option."""
    return f"config__{name}"


def add_config_flags(parser: argparse.ArgumentParser, cls: type, skip: Iterable[str] = (),
                     aliases: dict[str, Iterable[str]] | None = None) -> None:
    """One `--field-name` flag per field of `cls` (a flag left out keeps the config's value), plus
    `--config FILE` and `--set key=value`."""
    group = parser.add_argument_group(f"{cls.__name__} fields (default: the value in config.py or --config)")
    helps, hints = field_help(cls), typing.get_type_hints(cls)
    defaults = cls()
    for f in fields(cls):
        if f.name in skip:
            continue
        flags = [f"--{f.name.replace('_', '-')}", *((aliases or {}).get(f.name, ()))]
        base, optional = _split_optional(hints[f.name])
        text = helps.get(f.name, "")
        extra = [f"default {_shown(getattr(defaults, f.name))}"]
        if f.name in FIELD_CHOICES:
            extra.append(f"one of: {CHOICES_MARK}")
        if typing.get_origin(base) is tuple:
            extra.append("comma-separated")
        if optional:
            extra.append("'none' for None")
        help_text = _LazyHelp((text + " " if text else "") + f"({'; '.join(extra)})", f.name)
        if base is bool and not optional:
            group.add_argument(*flags, dest=dest(f.name), action=argparse.BooleanOptionalAction,
                               default=argparse.SUPPRESS, help=help_text)
        else:
            group.add_argument(*flags, dest=dest(f.name), type=_argparse_type(cls, f.name),
                               default=argparse.SUPPRESS, metavar=f.name.upper(), help=help_text)
    first = fields(cls)[0]
    example = f"{first.name}={getattr(defaults, first.name)}"
    group.add_argument("--config", type=Path, default=None, metavar="FILE",
                       help=f"start from a saved {cls.__name__} JSON (a run's config.json); other keys are ignored")
    group.add_argument("--set", dest="config_set", action="append", default=[], metavar="KEY=VALUE",
                       help=f"override one field (repeatable), e.g. --set {example}; applied after every other flag")


class FlagText(str):
    """A flag's raw text, read against the config class only once the command knows which class applies."""


def add_union_flags(parser: argparse.ArgumentParser, classes: dict[str, type], chooser: str) -> None:
    """Flags of a command whose config class depends on another option (`benchmark --suite`): one `--field-name`
    per field of any of the classes (labels -> class), kept as text and read by config_from_args against the class
    chosen; a field of another class is refused there. Plus `--config FILE` and `--set key=value`."""
    labels: dict[type, list[str]] = {}
    for label, cls in classes.items():
        labels.setdefault(cls, []).append(label)
    entries: dict[str, list[tuple[str, str, str]]] = {}  # field -> (labels, help, default) per class that has it
    for cls, names in labels.items():
        helps, defaults = field_help(cls), cls()
        for f in fields(cls):
            entries.setdefault(f.name, []).append((", ".join(names), helps.get(f.name, ""),
                                                   _shown(getattr(defaults, f.name))))
    group = parser.add_argument_group(f"settings of the chosen {chooser} (default: its config's value or --config)")
    for name, rows in entries.items():
        if len({text for _, text, _ in rows}) == 1:
            text = f"{rows[0][1]} (" + "; ".join(f"{where}: default {d}" for where, _, d in rows) + ")"
        else:
            text = "; ".join(f"{where}: {h} (default {d})" for where, h, d in rows)
        group.add_argument(f"--{name.replace('_', '-')}", dest=dest(name), type=FlagText, default=argparse.SUPPRESS,
                           metavar=name.upper(), help=_LazyHelp(text, name))
    group.add_argument("--config", type=Path, default=None, metavar="FILE",
                       help=f"start from a saved JSON of the chosen {chooser}'s settings; other keys are ignored")
    group.add_argument("--set", dest="config_set", action="append", default=[], metavar="KEY=VALUE",
                       help="override one setting (repeatable); applied after every other flag")


def _shown(default: Any) -> Any:
    """A default as help shows it: a tuple comma-separated."""
    if isinstance(default, tuple):
        return ",".join(map(str, default)) or "empty"
    return default


def _given(cls: type, args: argparse.Namespace) -> dict[str, Any]:
    """The field flags the user gave, as values of cls's fields (FlagText read now); a flag of a field cls lacks is
    refused."""
    names = {f.name for f in fields(cls)}
    given = {}
    for key, value in vars(args).items():
        if not key.startswith(dest("")):
            continue
        name = key[len(dest("")):]
        flag = f"--{name.replace('_', '-')}"
        if name not in names:
            raise ConfigError(f"{flag} is not a setting of {cls.__name__} (its fields: {', '.join(sorted(names))})")
        try:
            given[name] = parse_value(cls, name, value) if isinstance(value, FlagText) else value
        except ValueError as error:
            raise ConfigError(f"{flag} {value}: {error}") from None
    return given


CHOICES_MARK = "<choices>"  # replaced by the registry's names when help is shown


class _LazyHelp(str):
    """Help text that argparse formats with `%`: it is returned as written (a literal % stays), with the
    field's registry names put in only then, so building the parser never imports a registry."""

    field: str

    def __new__(cls, text: str, name: str) -> _LazyHelp:
        made = super().__new__(cls, text)
        made.field = name
        return made

    def __mod__(self, params: Any) -> str:
        registry = FIELD_CHOICES.get(self.field)
        return str(self).replace(CHOICES_MARK, ", ".join(registry) if registry is not None else "")


def parse_set(cls: type, items: Iterable[str]) -> dict[str, Any]:
    """`--set key=value` items -> field values (dashes or underscores in the key)."""
    values = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep:
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        name = key.strip().replace("-", "_")
        try:
            values[name] = parse_value(cls, name, text)
        except ValueError as error:
            raise ConfigError(f"--set {item}: {error}") from None
    return values


def saved_settings(path: Path) -> dict[str, Any]:
    """The JSON object a `--config FILE` names, with a clear error for a missing or broken file."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"--config {path}: no such file") from None
    except (OSError, json.JSONDecodeError) as error:
        raise ConfigError(f"--config {path}: not a readable JSON file ({error})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"--config {path}: expected a JSON object of settings, got {type(data).__name__}")
    return data


def config_from_args(cls: type[T], args: argparse.Namespace, saved: dict[str, Any] | None = None) -> T:
    """The config a command runs with: the defaults, then --config (`saved`: its settings when the caller has
    read them already), the field flags, then --set."""
    cfg = cls()
    if saved is None and getattr(args, "config", None) is not None:
        saved = saved_settings(args.config)
    if saved:
        cfg = from_dict(cls, {**asdict(cfg), **saved})
    return replace(cfg, **_given(cls, args), **parse_set(cls, getattr(args, "config_set", []) or []))


__all__ = ["ConfigError", "FIELD_CHOICES", "FlagText", "Registry", "add_config_flags", "add_union_flags",
           "config_from_args", "field_help", "parse_set", "parse_value", "saved_settings"]
