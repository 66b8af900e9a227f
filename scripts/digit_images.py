"""Digits to send to this app's endpoint: from MNIST IDX files or pictures of a digit.

``mlpipeline predict --reader scripts.digit_images:read_digits seven.png t10k-images-idx3-ubyte.gz``
reads them (run from the repository's root, so that ``scripts`` can be imported).

Pictures are made to look like MNIST digits, as the model was trained on those: grayscale,
white on black (inverted when the background is light), the digit fitted into a 20x20 box
keeping its aspect ratio, then placed in a 28x28 field so that its centre of mass is in the
middle — the way the MNIST images were made from NIST's.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from scripts.mnist_data import MnistDataError, read_idx

SIDE: Final = 28
#: MNIST fits each digit into a box this wide and high before centring it.
BOX: Final = 20
IMAGE_SUFFIXES: Final = frozenset(
    {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff"}
)
# Ink fainter than this share of the darkest stroke is left out of the digit's bounding box.
_INK_SHARE: Final = 0.1
# A picture whose strongest ink differs from its background by less than this holds no digit.
_MIN_CONTRAST: Final = 16.0

Pixels = npt.NDArray[np.float64]


def read_digits(path: Path) -> npt.NDArray[Any]:
    """A reader for ``mlpipeline predict --reader scripts.digit_images:read_digits``.

    A picture of one digit (PNG, JPEG, ...) becomes one MNIST-like image, shaped (1, 28, 28);
    an MNIST IDX file (plain or .gz) gives its images (N, 28, 28) with pixels 0-255, or its
    labels (N,) when it is a labels file, so ``--labels`` reads with the same reader.
    """
    path = Path(path)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return digit_from_picture(path)[np.newaxis]
    array = read_idx(path)
    if array.ndim == 1:
        return _as_labels(path, array)
    return as_image_batch(path, array)


def as_image_batch(path: Path, array: npt.NDArray[Any]) -> Pixels:
    """MNIST images (N, 28, 28) of pixels 0-255, from any of the shapes digits are kept in."""
    if array.dtype.kind not in "iuf":
        raise MnistDataError(f"{path}: expected numbers (pixel values 0-255), got {array.dtype}")
    shape = array.shape
    if shape in ((SIDE, SIDE), (SIDE * SIDE,)):
        batch = array.reshape(1, SIDE, SIDE)
    elif array.ndim >= 2 and shape[1:] in ((SIDE, SIDE), (SIDE * SIDE,), (1, SIDE, SIDE)):
        batch = array.reshape(-1, SIDE, SIDE)
    else:
        raise MnistDataError(
            f"{path}: expected images shaped (28, 28), (784,), (N, 28, 28) or (N, 784), got {shape}"
        )
    pixels = batch.astype(np.float64)
    if len(pixels) == 0:
        raise MnistDataError(f"{path}: holds no images")
    if not np.isfinite(pixels).all() or pixels.min() < 0 or pixels.max() > 255:
        raise MnistDataError(f"{path}: pixel values must be numbers from 0 to 255, as in MNIST")
    return pixels


def _as_labels(path: Path, array: npt.NDArray[Any]) -> npt.NDArray[np.int64]:
    if array.dtype.kind not in "iu":
        raise MnistDataError(f"{path}: expected labels, whole numbers shaped (N,)")
    if len(array) and (array.min() < 0 or array.max() > 9):
        raise MnistDataError(f"{path}: labels must be digits 0-9")
    return array.astype(np.int64)


def digit_from_picture(path: str | os.PathLike[str]) -> npt.NDArray[np.uint8]:
    """A picture of one digit as an MNIST image: (28, 28) unsigned bytes, white on black."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise MnistDataError("reading pictures needs Pillow: pip install pillow") from None
    path = Path(path)
    try:
        with Image.open(path) as picture:
            picture.load()
            if picture.mode in ("RGBA", "LA", "PA") or "transparency" in picture.info:
                rgba = picture.convert("RGBA")
                alpha = np.asarray(rgba.getchannel("A"), dtype=np.float64)
            else:
                alpha = None
            gray = np.asarray(picture.convert("L"), dtype=np.float64)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise MnistDataError(f"{path}: not a picture that can be read: {exc}") from exc
    # A digit drawn on a transparent canvas is its opaque part, whatever colour the strokes are.
    if alpha is not None and alpha.min() < 250:
        gray = alpha
    try:
        return mnist_like(gray)
    except MnistDataError as exc:
        raise MnistDataError(f"{path}: {exc}") from None


def mnist_like(gray: Pixels) -> npt.NDArray[np.uint8]:
    """Grayscale pixels (any size) of one digit, made into a 28x28 MNIST image."""
    from PIL import Image

    pixels = np.asarray(gray, dtype=np.float64)
    if pixels.ndim != 2 or min(pixels.shape) < 1:
        raise MnistDataError(f"expected a two-dimensional picture, got shape {pixels.shape}")
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    if np.median(border) > 127.5:  # dark digit on a light background: MNIST is the reverse
        pixels, border = 255.0 - pixels, 255.0 - border
    ink = np.clip(pixels - np.median(border), 0, None)
    peak = float(ink.max())
    if peak < _MIN_CONTRAST:
        raise MnistDataError("no digit found: the picture is blank")
    ink *= 255.0 / peak
    rows = np.flatnonzero((ink > 255 * _INK_SHARE).any(axis=1))
    cols = np.flatnonzero((ink > 255 * _INK_SHARE).any(axis=0))
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    height, width = crop.shape
    scale = BOX / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = Image.fromarray(np.round(crop).astype(np.uint8)).resize(
        size, Image.Resampling.LANCZOS
    )
    digit = np.asarray(resized, dtype=np.float64)
    total = digit.sum()
    if total <= 0:
        raise MnistDataError("no digit found: the picture is blank")
    ys, xs = np.indices(digit.shape)
    centre_y, centre_x = (ys * digit).sum() / total, (xs * digit).sum() / total
    middle = (SIDE - 1) / 2
    top, left = round(middle - centre_y), round(middle - centre_x)
    field = np.zeros((SIDE, SIDE))
    # Paste the digit at (top, left), cutting off whatever would fall outside the field.
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + digit.shape[0], SIDE), min(left + digit.shape[1], SIDE)
    field[y0:y1, x0:x1] = digit[y0 - top : y1 - top, x0 - left : x1 - left]
    return np.clip(np.round(field), 0, 255).astype(np.uint8)
