"""Sizes never grow, aspect ratios hold, and content crops find the detail."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from imgpipe.imaging import cover_size, crop_size, crop_to_aspect, fit_long_edge, fit_pixels, fit_width
from imgpipe.imaging.crop import aspect_window, content_offset
from tests import imagegen as g

dims = st.integers(min_value=1, max_value=20_000)
sizes = st.tuples(dims, dims)


@given(sizes, st.integers(min_value=1, max_value=5000))
def test_fit_width_never_enlarges_and_keeps_aspect(size: tuple[int, int], width: int) -> None:
    w, h = fit_width(size, width)
    assert w == min(width, size[0]) and 1 <= h <= size[1]
    assert abs(h - size[1] * w / size[0]) <= 1


@given(sizes, st.integers(min_value=1, max_value=5000))
def test_fit_long_edge_caps_the_longer_side(size: tuple[int, int], edge: int) -> None:
    w, h = fit_long_edge(size, edge)
    assert max(w, h) <= max(edge, 1) or (w, h) == size
    assert w <= size[0] and h <= size[1]


@given(sizes, st.integers(min_value=1, max_value=10**8))
def test_fit_pixels_caps_the_area(size: tuple[int, int], budget: int) -> None:
    w, h = fit_pixels(size, budget)
    assert w <= size[0] and h <= size[1]
    assert w * h <= max(budget, 1) or (w, h) == (1, 1) or w == 1 or h == 1


@given(sizes, st.tuples(st.integers(1, 2000), st.integers(1, 2000)))
def test_cover_size_covers_the_box_unless_the_source_is_smaller(size: tuple[int, int], box: tuple[int, int]) -> None:
    w, h = cover_size(size, box)
    assert w <= size[0] and h <= size[1]
    if size[0] >= box[0] and size[1] >= box[1]:
        assert w >= box[0] and h >= box[1]
    final = crop_size(size, box)
    assert final[0] <= min(w, box[0]) and final[1] <= min(h, box[1])


@given(sizes, st.tuples(st.integers(1, 2000), st.integers(1, 2000)))
def test_aspect_window_fits(size: tuple[int, int], box: tuple[int, int]) -> None:
    w, h = aspect_window(size, box)
    assert w <= size[0] and h <= size[1]
    assert w == size[0] or h == size[1]


def test_content_crop_finds_the_subject_off_centre() -> None:
    im = g.textured((600, 200), box=(430, 20, 590, 180))  # subject on the right
    left, top = content_offset(im, (200, 200))
    assert left >= 390 and top == 0  # the window holds the whole subject
    out = crop_to_aspect(im, (1, 1), "content")
    assert out.size == (200, 200)
    assert g.mean_color(out) != g.mean_color(crop_to_aspect(im, (1, 1), "center"))


def test_content_crop_works_vertically() -> None:
    im = g.textured((200, 600), box=(20, 10, 180, 170))  # subject at the top of a portrait
    assert content_offset(im, (200, 200))[1] <= 20


def test_flat_images_stay_centred() -> None:
    im = Image.new("RGB", (600, 200), (90, 90, 90))
    assert content_offset(im, (200, 200)) == (200, 0)
    assert crop_to_aspect(im, (300, 300), "center").size == (200, 200)


def test_unknown_strategy_is_a_configuration_error() -> None:
    with pytest.raises(ValueError):
        crop_to_aspect(Image.new("RGB", (20, 10)), (1, 1), "faces")
