"""A service's settings: a frozen dataclass, checked before anything is deployed.

Each service declares its ``[settings]`` in ``services/<name>/settings.py`` as a class named
``Settings``; the default of every field is the value the service runs with when nothing
overrides it::

    @dataclass(frozen=True)
    class Settings(Limits, EncoderSettings):      # shared groups: safety caps, encoder options
        size: int = setting(300, min=1)
        crop: str = setting("content", choices=("content", "center"))
        formats: tuple[str, ...] = setting(("webp",), choices=("webp", "jpeg"), min_items=1)

:func:`parse` turns a mapping (the manifest's table with the deployment's overrides, or the
function's ``IMGPIPE_SETTINGS``) into that class, or raises one :class:`SettingsError` naming the
service, the setting and what is allowed. ``cdk synth``, the local stack and the handler all parse
with it (:func:`imgpipe.registry.parse_settings`), so a value the handler would refuse never
reaches a deployed function.

Field types understood: ``bool``, ``int``, ``float``, ``str``, tuples of those (``tuple[int, ...]``
any length, ``tuple[int, int]`` exactly two) and unions of these (``int | tuple[int, int]``). TOML
and JSON lists become tuples, so a parsed object is immutable. ``bool`` is never taken for an
``int`` (TOML ``true`` is not 1); an ``int`` is taken for a ``float``.

A list of tables (TOML inline tables or ``[[...]]``, JSON objects) is a tuple of another frozen
dataclass (``tuple[Variant, ...]``, or ``tuple[str | Variant, ...]`` for a list that takes a short
name or a table, as convert's ``formats``): each table is parsed with that class's own fields and
checks, and an error names the entry (``'formats' entry 2 (name 'low'): 'quality' must be ...``).
A table of named tables (``Mapping[str, Preset]``: TOML ``[settings.presets.card]``, a JSON object
of objects) maps each name to an instance of the value's class, in a read-only mapping; an error
names the entry (``'presets' entry 'card': 'width' must be ...``).

``int | None = setting(None)`` is a setting that is unset unless given (TOML has no null; a JSON
null leaves it unset). A check that involves several fields (or several entries) goes in the
class's ``__post_init__``, which raises :class:`Invalid`; :func:`parse` words it like any other.

This module imports nothing heavy: ``infra/`` imports every service's settings at synth.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

_CHECKS = "imgpipe.setting"  # key of a field's metadata that holds its _Checks


class SettingsError(ValueError):
    """A setting has a value its service does not accept; the message says what it accepts."""

    def __init__(self, service: str, setting: str | None, problem: str) -> None:
        where = f"'{setting}' " if setting else ""
        super().__init__(f"settings of {service}: {where}{problem}")
        self.service = service
        self.setting = setting
        self.problem = problem


class Invalid(ValueError):
    """Raised by a settings class's ``__post_init__`` for a value its fields' checks cannot refuse
    alone (one field against another, entries against each other); :func:`parse` turns it into a
    :class:`SettingsError` naming the service and ``setting``."""

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"'{setting}' {problem}")
        self.setting = setting
        self.problem = problem


@dataclass(frozen=True)
class _Checks:
    """What a value must satisfy beyond its type. Numbers and choices apply to every item of a tuple."""

    min: float | None = None
    max: float | None = None
    choices: tuple[Any, ...] | None = None
    min_items: int | None = None


def setting(
    default: Any,
    *,
    min: float | None = None,
    max: float | None = None,
    choices: Sequence[Any] | None = None,
    min_items: int | None = None,
) -> Any:
    """A dataclass field with its default and its checks (a tuple default for a list setting, a
    mapping for a table of named entries)."""
    checks = _Checks(min, max, tuple(choices) if choices is not None else None, min_items)
    if isinstance(default, Mapping):
        # a dataclass takes no mutable default: each instance gets its own read-only copy
        frozen = dict(default)
        return dataclasses.field(default_factory=lambda: ReadOnlyTable(frozen), metadata={_CHECKS: checks})
    return dataclasses.field(default=default, metadata={_CHECKS: checks})


def redefault(group: type, name: str, default: Any) -> Any:
    """Field ``name`` of a shared group (e.g. :class:`EncoderSettings`) with another default and
    the same checks, for a service whose own default differs from the group's."""
    (declared,) = [f for f in dataclasses.fields(group) if f.name == name]
    return dataclasses.field(default=default, metadata=declared.metadata)


@dataclass(frozen=True)
class NoSettings:
    """The settings of a service without a ``settings.py``: it accepts none."""


# -- parsing -------------------------------------------------------------------------
class ReadOnlyTable(dict):  # type: ignore[type-arg]
    """A table of named entries as parsed: a dict that refuses changes, as a frozen dataclass's
    fields do (``dataclasses.asdict`` and ``copy`` still work on it)."""

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("parsed settings are read-only")

    __setitem__ = __delitem__ = __ior__ = clear = pop = popitem = setdefault = update = _refuse

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (dict(self),))


class _WrongType(Exception):
    """The value does not have the declared type (the caller words the message)."""


class _Problem(Exception):
    """A table in a list has a value its class refuses, worded from the table's setting on;
    :func:`parse` prefixes the list's name and the entry."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _is_table(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


_SCALAR_NAMES: dict[type, tuple[str, str]] = {
    bool: ("true or false", "booleans"),
    int: ("an integer", "integers"),
    float: ("a number", "numbers"),
    str: ("a string", "strings"),
}


def _members(tp: Any) -> tuple[Any, ...]:
    """A union's members a value can have (``None`` is only ever a default)."""
    return tuple(a for a in typing.get_args(tp) if a is not type(None))


def _plural(tp: Any) -> str:
    if tp in _SCALAR_NAMES:
        return _SCALAR_NAMES[tp][1]
    if _is_table(tp):
        return "tables"
    return " or ".join(_plural(a) for a in _members(tp))


def _describe(tp: Any) -> str:
    """``int | tuple[int, int]`` -> 'an integer or a list of 2 integers'."""
    if tp in _SCALAR_NAMES:
        return _SCALAR_NAMES[tp][0]
    if _is_table(tp):
        return "a table of name = value"
    if typing.get_origin(tp) in (dict, Mapping):
        return f"a table of names to {_plural(typing.get_args(tp)[1])}"
    args = typing.get_args(tp)
    if typing.get_origin(tp) is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {_plural(args[0])}"
        if len(set(args)) == 1:
            return f"a list of {len(args)} {_plural(args[0])}"
        return "a list of " + ", ".join(_describe(a) for a in args)
    return " or ".join(_describe(a) for a in _members(tp))


def _table(tp: type, value: Any) -> Any:
    """A table of a list as an instance of ``tp`` (an instance is checked again, so a parsed
    object's :func:`as_mapping` parses back to itself); :class:`_Problem` when it is refused."""
    if isinstance(value, tp):
        value = as_mapping(value)
    try:
        return parse(tp, value, service="")
    except SettingsError as error:
        where = f"'{error.setting}' " if error.setting else ""
        raise _Problem(f"{where}{error.problem}") from None


def _convert(tp: Any, value: Any) -> Any:
    """``value`` as type ``tp``, or :class:`_WrongType`."""
    if tp is bool or tp is str:
        if isinstance(value, tp):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif _is_table(tp):
        if isinstance(value, Mapping | tp):
            return _table(tp, value)
    elif typing.get_origin(tp) is tuple:
        args = typing.get_args(tp)
        if isinstance(value, list | tuple):
            if len(args) == 2 and args[1] is Ellipsis:
                return tuple(_entry(i, args[0], v) for i, v in enumerate(value, 1))
            if len(value) == len(args):
                return tuple(_entry(i, a, v) for i, (a, v) in enumerate(zip(args, value, strict=True), 1))
    elif typing.get_origin(tp) in (dict, Mapping):
        if isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
            return ReadOnlyTable({k: _named(k, typing.get_args(tp)[1], v) for k, v in value.items()})
    elif typing.get_origin(tp) in (typing.Union, types.UnionType):
        if value is None and type(None) in typing.get_args(tp):
            return None  # JSON null (or an unset field read back from a parsed object): unset
        for member in _members(tp):
            try:
                return _convert(member, value)
            except _WrongType:
                continue
    else:
        raise TypeError(
            f"settings cannot hold a {tp!r} (use bool, int, float, str, frozen dataclasses, tuples, "
            "dicts of str to one of these, and unions of them)"
        )
    raise _WrongType


def _entry(index: int, tp: Any, value: Any) -> Any:
    """Item ``index`` (from 1) of a list; a refused table is named by its place and its ``name``."""
    try:
        return _convert(tp, value)
    except _Problem as problem:
        named = value.get("name") if isinstance(value, Mapping) else getattr(value, "name", None)
        which = f"entry {index}" + (f" (name {named!r})" if isinstance(named, str) else "")
        raise _Problem(f"{which}: {problem.message}") from None


def _named(name: str, tp: Any, value: Any) -> Any:
    """Entry ``name`` of a table of named values; a refused one is named."""
    try:
        return _convert(tp, value)
    except _WrongType:
        raise _Problem(f"entry {name!r}: must be {_describe(tp)}; got {value!r}") from None
    except _Problem as problem:
        raise _Problem(f"entry {name!r}: {problem.message}") from None


def _quoted(values: Sequence[Any]) -> str:
    return ", ".join(repr(v) for v in values)


def _check(value: Any, checks: _Checks) -> str | None:
    """What is wrong with an already converted value (worded to follow its name), or None."""
    items = tuple(value.values()) if isinstance(value, Mapping) else value if isinstance(value, tuple) else (value,)
    must = "entries must" if isinstance(value, tuple | Mapping) else "must"
    if isinstance(value, tuple) and checks.min_items is not None and len(value) < checks.min_items:
        entries = "entry" if checks.min_items == 1 else "entries"
        return f"must have at least {checks.min_items} {entries}; got {list(value)!r}"
    for item in items:
        if dataclasses.is_dataclass(item):
            continue  # a table was checked by its own class
        if checks.choices is not None and item not in checks.choices:
            return f"{must} be one of {_quoted(checks.choices)}; got {item!r}"
        if isinstance(item, int | float) and not isinstance(item, bool):
            low, high = checks.min, checks.max
            if (low is not None and item < low) or (high is not None and item > high):
                if low is not None and high is not None:
                    bounds = f"between {low!r} and {high!r}"
                else:
                    bounds = f"at least {low!r}" if low is not None else f"at most {high!r}"
                return f"{must} be {bounds}; got {item!r}"
    return None


@functools.cache
def _fields(cls: type) -> dict[str, tuple[Any, _Checks]]:
    """Each field's resolved type and checks (resolved once per class: annotations are strings)."""
    if not (dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen):  # type: ignore[attr-defined]
        raise TypeError(f"{cls.__qualname__} must be a frozen dataclass")
    hints = typing.get_type_hints(cls)
    return {f.name: (hints[f.name], f.metadata.get(_CHECKS, _Checks())) for f in dataclasses.fields(cls)}


def parse(cls: type[T], raw: Mapping[str, Any], *, service: str) -> T:
    """``raw`` as an instance of ``cls``; a setting missing from ``raw`` keeps its default.
    Raises :class:`SettingsError` for the first unknown name or unacceptable value."""
    if not isinstance(raw, Mapping):
        raise SettingsError(service, None, f"must be a table of name = value; got {raw!r}")
    fields = _fields(cls)
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        known = f"known: {_quoted(sorted(fields))}" if fields else f"services/{service}/settings.py declares none"
        raise SettingsError(service, unknown[0], f"is not a known setting ({known})")
    values: dict[str, Any] = {}
    for name, value in raw.items():
        tp, checks = fields[name]
        try:
            values[name] = _convert(tp, value)
        except _WrongType:
            raise SettingsError(service, name, f"must be {_describe(tp)}; got {value!r}") from None
        except _Problem as problem:
            raise SettingsError(service, name, problem.message) from None
        problem = _check(values[name], checks)
        if problem:
            raise SettingsError(service, name, problem)
    try:
        return cls(**values)
    except Invalid as invalid:
        raise SettingsError(service, invalid.setting, invalid.problem) from None


def as_mapping(settings: Any) -> Mapping[str, Any]:
    """A parsed settings object's values by name; a mapping is returned as it is."""
    if isinstance(settings, Mapping):
        return settings
    return {f.name: getattr(settings, f.name) for f in dataclasses.fields(settings)}


def as_data(settings: Any) -> Any:
    """A parsed settings object as plain JSON data (tables as objects, tuples as lists), every
    field included, defaults too: what the runtime hashes to tell whether a variant is up to date."""
    if dataclasses.is_dataclass(settings) and not isinstance(settings, type):
        return {f.name: as_data(getattr(settings, f.name)) for f in dataclasses.fields(settings)}
    if isinstance(settings, Mapping):
        return {str(k): as_data(v) for k, v in settings.items()}
    if isinstance(settings, list | tuple):
        return [as_data(v) for v in settings]
    return settings


# -- groups several services share --------------------------------------------------------
@dataclass(frozen=True)
class EncoderSettings:
    """How variants are encoded (read by :meth:`imgpipe.imaging.encode.EncodeOptions.from_settings`).
    Defaults are ``EncodeOptions``'s; ranges are what Pillow's encoders accept."""

    jpeg_quality: int = setting(82, min=1, max=100)
    webp_quality: int = setting(80, min=0, max=100)
    webp_method: int = setting(4, min=0, max=6)  # 0 fast .. 6 small
    avif_quality: int = setting(60, min=0, max=100)
    avif_speed: int = setting(8, min=0, max=10)  # 0 slow and small .. 10 fast
    png_compress_level: int = setting(6, min=0, max=9)
    background: tuple[int, int, int] = setting((255, 255, 255), min=0, max=255)  # RGB under alpha in JPEG
