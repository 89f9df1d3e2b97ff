"""Image validation and decoding: the one place that turns untrusted bytes into pixels.

Validation reads the header first (format, declared size, pixel format) so a decompression bomb is refused
before any pixel is allocated, then decodes fully so truncated files are caught. Orientation comes from the
EXIF/XMP metadata as Pillow reads it, for the reported size, the thumbnail and the detector's pixels alike.

Whatever the bytes, `validate`, `decode_bgr` and `decoded_bytes` either succeed or raise `ImageRejected`:
an unexpected exception from a decoder or a metadata parser becomes a rejection naming it.
"""

from __future__ import annotations

import hashlib
import io
import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "BMP": "image/bmp", "TIFF": "image/tiff"}
CONTENT_TYPES = set(FORMATS.values())
THUMBNAIL_SIDE = 320
_EXIF_ORIENTATION = 0x0112
_SWAPS_SIDES = {5, 6, 7, 8}
#: EXIF orientation → the transposition that makes the stored pixels upright (as Pillow's exif_transpose).
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
#: Pillow modes with 32-bit samples: OpenCV cannot decode such (TIFF) images, and they have no defined white.
_UNSUPPORTED_MODES = {"I": "32-bit integer", "F": "32-bit floating-point"}
_SIXTEEN_BIT_MODES = {"I;16", "I;16B", "I;16L", "I;16N"}
# _TIFF_ORIENTED_ON_LOAD: Pillow (recent versions) reports a TIFF's size in display orientation and turns its
# pixels upright while loading, dropping the orientation tag; older versions leave both to the caller. So for
# TIFF the size and the orientation still to apply are read after loading, whichever Pillow this is.
#: Rows are converted and reduced in strips of about this many bytes, so no second full-size copy exists.
_STRIP_BYTES = 4 * 1024 * 1024


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
    #: The detector's pixels (what `decode_bgr` gives), when validation decoded them anyway (`validate`).
    pixels: np.ndarray | None = field(default=None, repr=False, compare=False)


#: JPEG modes whose pixels Pillow and OpenCV decode identically (the same libjpeg-turbo, test_images), so
#: validation's full decode can serve the detector too. Others (CMYK) are decoded by OpenCV as before.
_SHARED_JPEG_MODES = {"RGB", "L"}


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sniff_content_type(data: bytes) -> str | None:
    """Content type from the header alone, or None when it is not a supported image."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return FORMATS.get(_format(image))
    except Exception:
        return None


def validate(
    data: bytes, max_bytes: int, max_pixels: int, expected_sha256: str | None = None, pixels_up_to: int = 0
) -> ValidImage:
    """Checks size, hash, format, declared dimensions and full decodability; returns a thumbnail too.

    `pixels_up_to`: a JPEG whose BGR pixels take at most this many bytes is decoded in full rather than at the
    thumbnail's reduced scale, and its pixels (exactly `decode_bgr`'s) are returned for the detector: one decode
    per image instead of two, for about 0.2 ms more here and 1.2 ms less there per bench photo."""
    if not data:
        raise ImageRejected("empty file (0 bytes)")
    if len(data) > max_bytes:
        raise ImageRejected(f"file too large: {len(data)} bytes > limit {max_bytes}")
    digest = sha256_hex(data)
    if expected_sha256 and digest != expected_sha256:
        raise ImageRejected(f"sha256 mismatch: object has {digest}, message said {expected_sha256}")
    try:
        with Image.open(io.BytesIO(data)) as image:
            image_format, width, height = _check_header(image, max_pixels)
            orientation = _orientation(image)
            shared = image_format == "JPEG" and image.mode in _SHARED_JPEG_MODES and width * height * 3 <= pixels_up_to
            if not shared:
                # JPEG: decode at reduced scale (the whole stream is still read, so truncation is caught);
                # only the thumbnail needs these pixels, the detector decodes the original again.
                image.draft("RGB", _thumbnail_box(width, height))
            image.load()
            if image_format == "TIFF":
                width, height, orientation = *image.size, _orientation(image)  # see _TIFF_ORIENTED_ON_LOAD
            thumbnail = _thumbnail(image, orientation)
            pixels = _upright(_jpeg_bgr(image), orientation) if shared else None
    except Exception as exc:
        raise _rejection(exc) from None
    if orientation in _SWAPS_SIDES:
        width, height = height, width
    return ValidImage(
        format=image_format,
        content_type=FORMATS[image_format],
        width=width,
        height=height,
        sha256=digest,
        thumbnail_jpeg=thumbnail,
        pixels=pixels,
    )


def decode_bgr(data: bytes, max_pixels: int | None = None) -> np.ndarray:
    """BGR uint8 pixels (height × width × 3) in display orientation, 16-bit samples scaled to 8 bits.

    OpenCV decodes, except TIFF (OpenCV's TIFF reader applies the orientation itself, whatever it is told,
    and refuses some files Pillow reads) and PNGs with a chunk longer than the file (OpenCV allocates the
    declared length first: up to 2 GiB for a few kilobytes): Pillow decodes those, and any file OpenCV
    refuses or sees at another size than the header says. The orientation is the one `validate` reports
    (Pillow's reading of EXIF/XMP): every image `validate` accepts decodes here, at the size it reported.
    `max_pixels` refuses larger images before any pixel is decoded.
    """
    try:
        with Image.open(io.BytesIO(data)) as image:
            image_format, width, height = _check_header(image, max_pixels)
            orientation = _orientation(image)
            pixels = None
            if image_format == "TIFF":
                pixels = _pillow_bgr(image)
                orientation = _orientation(image)  # see _TIFF_ORIENTED_ON_LOAD
            elif image_format == "PNG" and _png_chunk_overruns(data):
                pixels = _pillow_bgr(image)
        if pixels is None:
            pixels = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
            if pixels is None or pixels.shape != (height, width, 3):
                del pixels
                with Image.open(io.BytesIO(data)) as image:
                    pixels = _pillow_bgr(image)
        return _upright(pixels, orientation)
    except Exception as exc:
        raise _rejection(exc) from None


def decoded_bytes(data: bytes) -> int:
    """What fully decoding `data` allocates, from its header alone: width × height × channels × bytes per
    sample, and at least the 3 bytes per pixel of the BGR array the detector gets; used to budget memory
    before decoding. Raises ImageRejected when the header is unreadable."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            sample = 2 if image.mode in _SIXTEEN_BIT_MODES else 4 if image.mode in _UNSUPPORTED_MODES else 1
            per_pixel = len(image.getbands()) * sample
    except Exception as exc:
        raise ImageRejected(f"unreadable image header ({type(exc).__name__}: {exc})") from None
    return width * height * max(3, per_pixel)


# --- header and metadata ---------------------------------------------------------------------------------------


def _format(image: Image.Image) -> str:
    # A JPEG with an MPF index of further images (phones' depth maps, previews) opens as MPO: it is a JPEG,
    # and both decoders read its first image.
    return "JPEG" if image.format == "MPO" else image.format or ""


def _check_header(image: Image.Image, max_pixels: int | None) -> tuple[str, int, int]:
    """(format, stored width, stored height) of a supported image within the limits, else ImageRejected."""
    image_format = _format(image)
    if image_format not in FORMATS:
        raise ImageRejected(f"unsupported image format {image_format or 'unknown'!r}")
    width, height = image.size
    if width < 2 or height < 2:
        raise ImageRejected(f"image too small: {width}x{height} px")
    if Image.MAX_IMAGE_PIXELS and width * height > Image.MAX_IMAGE_PIXELS:
        raise ImageRejected(
            f"decompression bomb refused: Image size ({width * height} pixels) exceeds limit of "
            f"{Image.MAX_IMAGE_PIXELS} pixels"
        )
    if max_pixels is not None and width * height > max_pixels:
        raise ImageRejected(f"image too large: {width}x{height} px > limit {max_pixels} px")
    if image.mode in _UNSUPPORTED_MODES:
        raise ImageRejected(
            f"unsupported pixel format: {image_format} with {_UNSUPPORTED_MODES[image.mode]} samples "
            f"(mode {image.mode}); OpenCV cannot decode it"
        )
    return image_format, width, height


def _png_chunk_overruns(data: bytes) -> bool:
    """Whether a chunk of this PNG declares more bytes than the file holds after it."""
    position = 8
    while position + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, position)
        if position + 12 + length > len(data):
            return True
        if kind == b"IEND":
            return False
        position += 12 + length
    return False


def _orientation(image: Image.Image) -> int:
    """EXIF orientation 1…8 (Pillow also reads XMP's tiff:Orientation) from the metadata before the pixels;
    1 when absent, malformed or of an odd type: the pixels are usable whatever the metadata says.

    Read from the header only, before any decoding (the base-class getexif: PNG's own would decode the whole
    image to look for EXIF after the pixel data), so validate and decode_bgr always agree on it."""
    try:
        value = Image.Image.getexif(image).get(_EXIF_ORIENTATION, 1)
    except Exception:
        return 1
    return value if type(value) is int and 1 <= value <= 8 else 1


def _rejection(exc: Exception) -> ImageRejected:
    if isinstance(exc, ImageRejected):
        return exc
    if isinstance(exc, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
        return ImageRejected(f"decompression bomb refused: {exc}")
    if isinstance(exc, UnidentifiedImageError):
        return ImageRejected("not an image (unrecognised content)")
    if isinstance(exc, (OSError, SyntaxError, ValueError)):
        return ImageRejected(f"corrupt or truncated image: {exc}")
    return ImageRejected(f"unreadable image ({type(exc).__name__}: {exc})")


# --- pixels ----------------------------------------------------------------------------------------------------


def _strips(image: Image.Image, multiple: int = 1) -> Iterator[tuple[int, Image.Image]]:
    """(top row, strip) over the loaded image; each strip a small copy, its height a multiple of `multiple`."""
    width, height = image.size
    rows = max(1, _STRIP_BYTES // (4 * width)) // multiple * multiple or multiple
    for top in range(0, height, rows):
        yield top, image.crop((0, top, width, min(top + rows, height)))


def _sixteen_bit_peak(image: Image.Image) -> float:
    return max((float(np.asarray(strip).max()) for _, strip in _strips(image)), default=0.0) or 1.0


def _displayable(strip: Image.Image, peak: float | None) -> Image.Image:
    """A strip in L, RGB or RGBA (alpha kept for compositing; 16-bit samples scaled by the image's peak)."""
    mode = strip.mode
    if mode in _SIXTEEN_BIT_MODES:
        scaled = np.asarray(strip).astype(np.float32) * (255.0 / (peak or 1.0))
        return Image.fromarray(np.clip(scaled, 0, 255).astype(np.uint8))
    if mode in ("L", "RGB", "RGBA"):
        return strip
    if mode == "1":
        return strip.convert("L")
    if mode in ("P", "PA", "LA", "La", "RGBa"):
        return strip.convert("RGBA")
    return strip.convert("RGB")


def _thumbnail_box(width: int, height: int) -> tuple[int, int]:
    """The thumbnail's size for stored pixels of `width` × `height`: a JPEG decoded at reduced scale keeps at
    least this many (Pillow reduces only while both sides stay at least this large; a square box would keep a
    landscape photo at full size)."""
    scale = min(1.0, THUMBNAIL_SIDE / max(width, height, 1))
    return max(1, int(width * scale)), max(1, int(height * scale))


def _thumbnail(image: Image.Image, orientation: int) -> bytes:
    """JPEG of at most THUMBNAIL_SIDE px a side, upright, alpha over white. Never copies the loaded image
    whole: strips are converted and reduced by an integer factor (box filter) to less than twice the thumbnail
    size, then OpenCV resamples the rest of the way (Pillow's own resampling, unvectorized, took 2 ms of CPU per
    photo, half of validation), and the orientation is applied to the thumbnail only."""
    width, height = image.size
    factor = max(1, int(max(width, height) / THUMBNAIL_SIDE))
    peak = _sixteen_bit_peak(image) if image.mode in _SIXTEEN_BIT_MODES else None
    reduced: Image.Image | None = None
    for top, strip in _strips(image, factor):
        part = _displayable(strip, peak)
        if factor > 1:
            part = part.reduce(factor)
        if reduced is None:
            reduced = Image.new(part.mode, (math.ceil(width / factor), math.ceil(height / factor)))
        reduced.paste(part, (0, top // factor))
    assert reduced is not None
    box = _thumbnail_box(*reduced.size)
    if box != reduced.size:
        # Bicubic to twice the thumbnail, then an exact 2:1 area average: as close to the photo as Pillow's
        # bicubic (test_images), for a quarter of its CPU.
        doubled = cv2.resize(np.asarray(reduced), (2 * box[0], 2 * box[1]), interpolation=cv2.INTER_CUBIC)
        reduced = Image.fromarray(cv2.resize(doubled, box, interpolation=cv2.INTER_AREA))
    if reduced.mode == "RGBA":
        background = Image.new("RGB", reduced.size, (255, 255, 255))
        background.paste(reduced, mask=reduced.getchannel("A"))
        reduced = background
    if orientation in _UPRIGHT:
        reduced = reduced.transpose(_UPRIGHT[orientation])
    out = io.BytesIO()
    reduced.save(out, format="JPEG", quality=80)
    return out.getvalue()


def _pillow_bgr(image: Image.Image) -> np.ndarray:
    """BGR uint8 pixels as stored (no orientation) of an opened image, decoded by Pillow and converted strip
    by strip as OpenCV would: alpha dropped, 16-bit samples shifted to their high byte."""
    image.load()
    width, height = image.size
    pixels = np.empty((height, width, 3), dtype=np.uint8)
    for top, strip in _strips(image):
        if strip.mode in _SIXTEEN_BIT_MODES:
            gray = (np.asarray(strip).astype(np.uint16) >> 8).astype(np.uint8)
            pixels[top : top + strip.height] = gray[:, :, None]
        else:
            pixels[top : top + strip.height] = np.asarray(strip.convert("RGB"))
    return cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR, dst=pixels)


def _jpeg_bgr(image: Image.Image) -> np.ndarray:
    """BGR pixels as stored of a loaded RGB or grayscale JPEG, as OpenCV's decode gives them."""
    pixels = np.asarray(image)
    if pixels.ndim == 2:
        return cv2.cvtColor(pixels, cv2.COLOR_GRAY2BGR)
    return cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)


def _upright(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """The stored pixels turned as EXIF orientation says (same result as Pillow's exif_transpose)."""
    if orientation == 2:
        return cv2.flip(pixels, 1)
    if orientation == 3:
        return cv2.rotate(pixels, cv2.ROTATE_180)
    if orientation == 4:
        return cv2.flip(pixels, 0)
    if orientation == 5:
        return cv2.transpose(pixels)
    if orientation == 6:
        return cv2.rotate(pixels, cv2.ROTATE_90_CLOCKWISE)
    if orientation == 7:
        return cv2.rotate(cv2.transpose(pixels), cv2.ROTATE_180)
    if orientation == 8:
        return cv2.rotate(pixels, cv2.ROTATE_90_COUNTERCLOCKWISE)
    return pixels
