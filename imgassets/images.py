"""Image validation and decoding: the one place that turns untrusted bytes into pixels.

Validation reads the header first (format, declared size) so a decompression bomb is refused before any
pixel is allocated, then decodes fully so truncated files are caught. Decoding applies EXIF orientation, so
detections are in the orientation a viewer displays.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "BMP": "image/bmp", "TIFF": "image/tiff"}
CONTENT_TYPES = set(FORMATS.values())
THUMBNAIL_SIDE = 320
_EXIF_ORIENTATION = 0x0112
_SWAPS_SIDES = {5, 6, 7, 8}


class ImageRejected(ValueError):
    """The bytes are not a usable image; `str(exc)` is the recorded reason."""


@dataclass(frozen=True)
class ValidImage:
    format: str
    content_type: str
    width: int
    height: int
    sha256: str
    thumbnail_jpeg: bytes


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sniff_content_type(data: bytes) -> str | None:
    """Content type from the header alone, or None when it is not a supported image."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return FORMATS.get(image.format or "")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, ValueError):
        return None


def validate(data: bytes, max_bytes: int, max_pixels: int, expected_sha256: str | None = None) -> ValidImage:
    """Checks size, hash, format, declared dimensions and full decodability; returns a thumbnail too."""
    if not data:
        raise ImageRejected("empty file (0 bytes)")
    if len(data) > max_bytes:
        raise ImageRejected(f"file too large: {len(data)} bytes > limit {max_bytes}")
    digest = sha256_hex(data)
    if expected_sha256 and digest != expected_sha256:
        raise ImageRejected(f"sha256 mismatch: object has {digest}, message said {expected_sha256}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            image_format = image.format or ""
            if image_format not in FORMATS:
                raise ImageRejected(f"unsupported image format {image_format or 'unknown'!r}")
            width, height = image.size
            if width < 2 or height < 2:
                raise ImageRejected(f"image too small: {width}x{height} px")
            if width * height > max_pixels:
                raise ImageRejected(f"image too large: {width}x{height} px > limit {max_pixels} px")
            if image.getexif().get(_EXIF_ORIENTATION, 1) in _SWAPS_SIDES:
                width, height = height, width
            # JPEG: decode at reduced scale (the whole stream is still read, so truncation is caught);
            # only the thumbnail needs these pixels, the detector decodes the original again.
            image.draft("RGB", (THUMBNAIL_SIDE, THUMBNAIL_SIDE))
            image.load()
            upright = ImageOps.exif_transpose(image)
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected(f"decompression bomb refused: {exc}") from None
    except UnidentifiedImageError:
        raise ImageRejected("not an image (unrecognised content)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageRejected(f"corrupt or truncated image: {exc}") from None
    return ValidImage(
        format=image_format,
        content_type=FORMATS[image_format],
        width=width,
        height=height,
        sha256=digest,
        thumbnail_jpeg=_thumbnail(upright),
    )


def _thumbnail(image: Image.Image) -> bytes:
    thumb = image.copy()
    thumb.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
    if thumb.mode not in ("RGB", "L"):
        thumb = _to_rgb(thumb)
    out = io.BytesIO()
    thumb.save(out, format="JPEG", quality=80)
    return out.getvalue()


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float32)
        peak = float(array.max()) or 1.0
        return Image.fromarray((array * (255.0 / peak)).astype(np.uint8)).convert("RGB")
    if "A" in image.getbands() or image.mode == "P":
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def decode_bgr(data: bytes) -> np.ndarray:
    """BGR uint8 pixels in display orientation (OpenCV applies EXIF orientation, scales 16-bit to 8-bit)."""
    pixels = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if pixels is None:
        raise ImageRejected("OpenCV could not decode the image")
    return pixels


_BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "LA": 2, "RGB": 3, "YCbCr": 3, "LAB": 3, "HSV": 3, "RGBA": 4, "CMYK": 4,
                    "I": 4, "F": 4, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}


def decoded_bytes(data: bytes) -> int:
    """What fully decoding `data` allocates, from its header alone (width × height × bytes per pixel, and at
    least the 3 bytes per pixel of the BGR array the detector gets); used to budget memory before decoding."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                mode = image.mode
    except Exception as exc:  # noqa: BLE001 (any unreadable header is this image's rejection)
        raise ImageRejected(f"unreadable image header ({type(exc).__name__}: {exc})") from None
    return width * height * max(3, _BYTES_PER_PIXEL.get(mode, 4))
