"""The generic settings parser (imgpipe.settings): each kind of mistake, and what it accepts."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from imgpipe.imaging.encode import EncodeOptions
from imgpipe.limits import Limits
from imgpipe.settings import (
    EncoderSettings,
    Invalid,
    NoSettings,
    SettingsError,
    as_mapping,
    parse,
    redefault,
    setting,
)


@dataclass(frozen=True)
class Example(Limits, EncoderSettings):
    size: int | tuple[int, int] = setting(300, min=1)
    crop: str = setting("content", choices=("content", "center"))
    formats: tuple[str, ...] = setting(("webp",), choices=("webp", "jpeg"), min_items=1)
    ratio: float = setting(0.5, min=0, max=1)
    enabled: bool = setting(True)
    webp_method: int = redefault(EncoderSettings, "webp_method", 2)


def _parse(**raw: Any) -> Example:
    return parse(Example, raw, service="demo")


def test_missing_settings_keep_their_defaults_and_lists_become_tuples() -> None:
    assert _parse() == Example()
    parsed = _parse(formats=["webp", "jpeg"], size=[400, 300], ratio=1, max_frames=10)
    assert parsed.formats == ("webp", "jpeg") and parsed.size == (400, 300)
    assert parsed.ratio == 1.0 and isinstance(parsed.ratio, float)
    assert parsed.max_frames == 10
    with pytest.raises(dataclasses.FrozenInstanceError):
        parsed.crop = "center"  # type: ignore[misc]


def test_the_groups_are_shared_and_a_service_may_change_a_default_but_not_the_checks() -> None:
    assert Example().webp_method == 2 and EncoderSettings().webp_method == 4
    with pytest.raises(SettingsError, match="'webp_method' must be between 0 and 6; got 7"):
        _parse(webp_method=7)
    # The runtime reads the groups straight from a parsed object.
    assert Limits.from_settings(_parse(max_pixels=100)) == Limits(max_pixels=100)
    assert EncodeOptions.from_settings(_parse(jpeg_quality=70)).jpeg_quality == 70
    assert EncodeOptions.from_settings(_parse()) == EncodeOptions(webp_method=2)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        # unknown name
        ({"cropp": "center"}, "settings of demo: 'cropp' is not a known setting (known: 'avif_quality', "),
        # allowed values
        ({"crop": "centre"}, "settings of demo: 'crop' must be one of 'content', 'center'; got 'centre'"),
        ({"formats": ["webp", "bmp"]}, "settings of demo: 'formats' entries must be one of 'webp', 'jpeg'; got 'bmp'"),
        # ranges, on a value and on the entries of a list
        ({"jpeg_quality": 0}, "settings of demo: 'jpeg_quality' must be between 1 and 100; got 0"),
        ({"max_bytes": 0}, "settings of demo: 'max_bytes' must be at least 1; got 0"),
        ({"size": [300, 0]}, "settings of demo: 'size' entries must be at least 1; got 0"),
        ({"ratio": 1.5}, "settings of demo: 'ratio' must be between 0 and 1; got 1.5"),
        # list length
        ({"formats": []}, "settings of demo: 'formats' must have at least 1 entry; got []"),
        ({"size": [1, 2, 3]}, "settings of demo: 'size' must be an integer or a list of 2 integers; got [1, 2, 3]"),
        # types: a bool is not an integer, a string is not a number, one value is not a list
        ({"jpeg_quality": True}, "settings of demo: 'jpeg_quality' must be an integer; got True"),
        ({"jpeg_quality": "82"}, "settings of demo: 'jpeg_quality' must be an integer; got '82'"),
        ({"jpeg_quality": 82.5}, "settings of demo: 'jpeg_quality' must be an integer; got 82.5"),
        ({"enabled": 1}, "settings of demo: 'enabled' must be true or false; got 1"),
        ({"ratio": "half"}, "settings of demo: 'ratio' must be a number; got 'half'"),
        ({"formats": "webp"}, "settings of demo: 'formats' must be a list of strings; got 'webp'"),
        ({"formats": ["webp", 1]}, "settings of demo: 'formats' must be a list of strings; got ['webp', 1]"),
        ({"background": [0, 0]}, "settings of demo: 'background' must be a list of 3 integers; got [0, 0]"),
        ({"background": [0, 0, 256]}, "settings of demo: 'background' entries must be between 0 and 255; got 256"),
    ],
)
def test_each_mistake_names_the_service_the_setting_and_what_is_allowed(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(SettingsError, match="^" + re.escape(message)) as info:
        parse(Example, raw, service="demo")
    assert info.value.service == "demo"
    assert info.value.setting == next(iter(raw))
    assert isinstance(info.value, ValueError)


def test_a_service_without_settings_accepts_none() -> None:
    assert parse(NoSettings, {}, service="bare") == NoSettings()
    with pytest.raises(
        SettingsError, match=r"'label' is not a known setting \(services/bare/settings.py declares none\)"
    ):
        parse(NoSettings, {"label": "x"}, service="bare")


def test_not_a_table() -> None:
    with pytest.raises(SettingsError, match="settings of demo: must be a table of name = value; got \\[1\\]"):
        parse(Example, [1], service="demo")  # type: ignore[arg-type]


def test_a_declaration_the_parser_cannot_check_is_refused() -> None:
    @dataclass(frozen=True)
    class Loose:
        anything: frozenset[int] = dataclasses.field(default_factory=frozenset)

    @dataclass
    class Mutable:
        size: int = 1

    with pytest.raises(TypeError, match="settings cannot hold"):
        parse(Loose, {"anything": [1]}, service="demo")
    with pytest.raises(TypeError, match="must be a frozen dataclass"):
        parse(Mutable, {}, service="demo")


def test_as_mapping_gives_the_values_by_name() -> None:
    assert as_mapping(_parse(crop="center"))["crop"] == "center"
    assert as_mapping({"a": 1}) == {"a": 1}


# -- lists of tables ---------------------------------------------------------------------
@dataclass(frozen=True)
class Entry:
    name: str = setting("full")
    kind: str = setting("", choices=("a", "b"))
    level: int | None = setting(None, min=0, max=9)

    def __post_init__(self) -> None:
        if not self.kind:
            raise Invalid("kind", "is required")


@dataclass(frozen=True)
class WithTables:
    entries: tuple[str | Entry, ...] = setting(("a",), choices=("a", "b"), min_items=1)

    def __post_init__(self) -> None:
        names = [e.name if isinstance(e, Entry) else e for e in self.entries]
        if len(set(names)) < len(names):
            raise Invalid("entries", "has a name twice")


def test_a_list_takes_tables_parsed_with_their_own_checks_and_optional_fields_stay_unset() -> None:
    parsed = parse(
        WithTables, {"entries": ["b", {"name": "x", "kind": "a"}, {"kind": "b", "level": 3}]}, service="demo"
    )
    assert parsed.entries == ("b", Entry("x", "a"), Entry("full", "b", 3))
    assert parsed.entries[1].level is None
    assert parse(WithTables, {"entries": [{"kind": "a", "level": None}]}, service="demo").entries == (Entry(kind="a"),)
    assert parse(WithTables, as_mapping(parsed), service="demo") == parsed  # a parsed object parses back


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        (
            [{"name": "x", "kind": "a", "level": 10}],
            "'entries' entry 1 (name 'x'): 'level' must be between 0 and 9; got 10",
        ),
        (["a", {"kind": "c"}], "'entries' entry 2: 'kind' must be one of 'a', 'b'; got 'c'"),
        ([{"name": "x"}], "'entries' entry 1 (name 'x'): 'kind' is required"),
        (
            [{"kind": "a", "colour": 1}],
            "'entries' entry 1: 'colour' is not a known setting (known: 'kind', 'level', 'name')",
        ),
        ([{"kind": "a", "level": "3"}], "'entries' entry 1: 'level' must be an integer; got '3'"),
        (["a", 3], "'entries' must be a list of strings or tables; got ['a', 3]"),
        (["c"], "'entries' entries must be one of 'a', 'b'; got 'c'"),
        ([], "'entries' must have at least 1 entry; got []"),
        (["a", {"name": "a", "kind": "b"}], "settings of demo: 'entries' has a name twice"),
    ],
)
def test_a_refused_table_is_named_by_its_place_and_name(entries: list[Any], message: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)) as info:
        parse(WithTables, {"entries": entries}, service="demo")
    assert info.value.setting == "entries"


# -- tables of named tables --------------------------------------------------------------
@dataclass(frozen=True)
class Named:
    entries: Mapping[str, Entry] = setting({})
    levels: Mapping[str, int] = setting({"low": 1}, min=0, max=9)


def test_a_table_of_named_tables_parses_each_with_its_own_checks_read_only() -> None:
    parsed = parse(Named, {"entries": {"x": {"kind": "a"}, "y": {"kind": "b", "level": 3}}}, service="demo")
    assert parsed.entries == {"x": Entry(kind="a"), "y": Entry(kind="b", level=3)}
    assert Named().entries == {} and Named().levels == {"low": 1}
    with pytest.raises(TypeError):
        parsed.entries["z"] = Entry(kind="a")  # type: ignore[index]
    with pytest.raises(TypeError):
        Named().levels["low"] = 2  # type: ignore[index]
    assert Named().levels is not Named().levels  # no default shared between instances
    assert parse(Named, as_mapping(parsed), service="demo") == parsed  # a parsed object parses back


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"entries": {"x": {"kind": "c"}}}, "'entries' entry 'x': 'kind' must be one of 'a', 'b'; got 'c'"),
        ({"entries": {"x": {"kind": "a", "level": 10}}}, "'entries' entry 'x': 'level' must be between 0 and 9"),
        ({"entries": {"x": 3}}, "'entries' entry 'x': must be a table of name = value; got 3"),
        ({"entries": [{"kind": "a"}]}, "'entries' must be a table of names to tables; got [{'kind': 'a'}]"),
        ({"levels": {"high": 12}}, "'levels' entries must be between 0 and 9; got 12"),
        ({"levels": {"high": "1"}}, "'levels' entry 'high': must be an integer; got '1'"),
    ],
)
def test_a_refused_named_entry_is_named(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)) as info:
        parse(Named, raw, service="demo")
    assert info.value.setting == next(iter(raw))
