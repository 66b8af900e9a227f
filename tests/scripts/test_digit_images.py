"""This app's digit reader: pictures made MNIST-like, IDX files, as ``mlpipeline predict`` reads
them with ``--reader scripts.digit_images:read_digits``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw

from scripts.digit_images import digit_from_picture, mnist_like, read_digits
from scripts.mnist_data import MnistDataError, write_idx


def draw_digit(path: Path, *, size: tuple[int, int] = (90, 130), mode: str = "L") -> None:
    """A dark, thick, off-centre "7" on a light background, as a phone photo of paper might be."""
    background: Any = 235 if mode == "L" else (0, 0, 0, 0)
    ink: Any = 20 if mode == "L" else (10, 10, 10, 255)
    picture = Image.new(mode, size, background)
    draw = ImageDraw.Draw(picture)
    draw.line([(15, 20), (70, 20), (35, 115)], fill=ink, width=9)
    picture.save(path)


def test_picture_becomes_white_on_black_fitted_and_centred_like_mnist(tmp_path: Path) -> None:
    draw_digit(tmp_path / "seven.png")
    digit = digit_from_picture(tmp_path / "seven.png")
    assert digit.shape == (28, 28) and digit.dtype == np.uint8
    # Inverted: the light paper is black (0), the strongest ink white (255).
    assert digit[0, 0] == 0 and digit.max() == 255
    rows = np.flatnonzero(digit.any(axis=1))
    cols = np.flatnonzero(digit.any(axis=0))
    # Fitted into 20x20 keeping the aspect ratio: the taller side is 20 (+1 of resampling blur).
    assert 20 <= rows[-1] - rows[0] + 1 <= 21
    assert cols[-1] - cols[0] + 1 < rows[-1] - rows[0] + 1
    # Centred by its centre of mass, not by its bounding box.
    ys, xs = np.indices(digit.shape)
    mass = digit.astype(float)
    assert abs((ys * mass).sum() / mass.sum() - 13.5) <= 0.5
    assert abs((xs * mass).sum() / mass.sum() - 13.5) <= 0.5


def test_picture_on_a_transparent_canvas_uses_its_opaque_strokes(tmp_path: Path) -> None:
    draw_digit(tmp_path / "light.png")
    draw_digit(tmp_path / "transparent.png", mode="RGBA")
    transparent = digit_from_picture(tmp_path / "transparent.png")
    assert transparent[0, 0] == 0 and transparent.max() == 255
    # The same strokes give nearly the same digit either way.
    difference = np.abs(transparent.astype(int) - digit_from_picture(tmp_path / "light.png"))
    assert difference.mean() < 10


def test_already_mnist_like_pixels_keep_their_polarity() -> None:
    dark = np.zeros((40, 40))
    dark[10:30, 18:22] = 200.0
    digit = mnist_like(dark)
    assert digit[0, 0] == 0 and digit.max() == 255


def test_blank_picture_is_refused(tmp_path: Path) -> None:
    Image.new("L", (50, 50), 255).save(tmp_path / "blank.png")
    with pytest.raises(MnistDataError, match=r"blank\.png: no digit found"):
        digit_from_picture(tmp_path / "blank.png")


def test_reader_gives_a_picture_as_a_batch_of_one(tmp_path: Path) -> None:
    draw_digit(tmp_path / "seven.png")
    batch = read_digits(tmp_path / "seven.png")
    assert batch.shape == (1, 28, 28)
    np.testing.assert_array_equal(batch[0], digit_from_picture(tmp_path / "seven.png"))


def test_reader_gives_idx_images_and_labels(tmp_path: Path) -> None:
    images = np.arange(2 * 784, dtype=np.uint8).reshape(2, 28, 28)
    write_idx(tmp_path / "images.gz", images)
    write_idx(tmp_path / "labels", np.array([3, 9], dtype=np.uint8))
    np.testing.assert_array_equal(read_digits(tmp_path / "images.gz"), images)
    assert read_digits(tmp_path / "labels").tolist() == [3, 9]


def test_reader_refuses_labels_that_are_not_digits(tmp_path: Path) -> None:
    write_idx(tmp_path / "labels", np.array([3, 12], dtype=np.uint8))
    with pytest.raises(MnistDataError, match="labels must be digits 0-9"):
        read_digits(tmp_path / "labels")
