"""Mutation fuzzing and differential tests of image validation and decoding.

Seeds are real photos (data/photos/*.jpg) and PNG, WebP, TIFF (8- and 16-bit) and BMP encodings of them made
here; hypothesis mutates their bytes (bit flips, byte replacements, truncation, chunk duplication and
deletion, spliced-in EXIF and XMP blocks, edited TIFF tags). For every input the only outcomes allowed are:
`validate` returns a ValidImage, and then `decode_bgr` returns an H×W×3 uint8 array of the reported size, or
either raises ImageRejected. Decoding must also stay within a small multiple of `decoded_bytes()`.
"""

from __future__ import annotations

import functools
import io
import struct
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, TiffImagePlugin

from imgassets.core import images
from imgassets_tests.conftest import PHOTOS
from imgassets_tests.fuzz_profile import fuzz_settings, regression_files

LIMIT_BYTES = 64 * 1024 * 1024
#: Small enough that no mutated header can make a test allocate much (the seeds are under 0.5 MP).
LIMIT_PIXELS = 4_000_000
MiB = 1024 * 1024
#: A decode may allocate this many times `decoded_bytes()` (decoder buffers, progressive JPEG coefficients,
#: PIL's 4-byte RGB pixels), plus a constant for libraries' own buffers and allocator slack.
MEMORY_FACTOR = 4
MEMORY_SLACK = 24 * MiB

pytestmark = pytest.mark.filterwarnings("ignore")


# --- measuring memory ----------------------------------------------------------------------------------------


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise LookupError(field)


def _can_reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        return True
    except OSError:
        return False


CAN_MEASURE = _can_reset_peak()


def peak_bytes(call: Callable[[], Any]) -> tuple[Any, int]:
    """(result, how far the process's resident set rose above its start during the call); the kernel's
    high-water mark is reset first, so native allocations (Pillow, OpenCV, libjpeg) count, unlike tracemalloc."""
    if not CAN_MEASURE:
        return call(), 0
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")
    before = _status_kib("VmRSS")
    try:
        result: Any = call()
    except images.ImageRejected as exc:
        result = exc
    return result, max(0, _status_kib("VmHWM") - before) * 1024


# --- the property ----------------------------------------------------------------------------------------------


def check_image(data: bytes, max_pixels: int = LIMIT_PIXELS) -> images.ValidImage | None:
    """validate → ValidImage (then decode_bgr gives its pixels) or ImageRejected; memory bounded."""
    assert images.sniff_content_type(data) in images.CONTENT_TYPES | {None}
    outcome, validate_peak = peak_bytes(lambda: images.validate(data, LIMIT_BYTES, max_pixels))
    if isinstance(outcome, images.ImageRejected):
        assert str(outcome), "a rejection must carry a reason"
        assert validate_peak <= MEMORY_FACTOR * max_pixels * 4 + MEMORY_SLACK, (
            f"{validate_peak / MiB:.0f} MiB to reject"
        )
        check_decode_any(data, max_pixels)
        return None
    valid = outcome
    assert isinstance(valid, images.ValidImage)
    assert valid.format in images.FORMATS and valid.content_type == images.FORMATS[valid.format]
    assert valid.width >= 2 and valid.height >= 2 and valid.width * valid.height <= max_pixels
    thumbnail = Image.open(io.BytesIO(valid.thumbnail_jpeg))
    assert thumbnail.format == "JPEG" and max(thumbnail.size) <= images.THUMBNAIL_SIDE
    # the thumbnail is in display orientation, like width/height
    if valid.width > 1.2 * valid.height:
        assert thumbnail.width > thumbnail.height
    elif valid.height > 1.2 * valid.width:
        assert thumbnail.height > thumbnail.width
    estimate = images.decoded_bytes(data)
    assert estimate >= valid.width * valid.height * 3
    assert validate_peak <= MEMORY_FACTOR * estimate + MEMORY_SLACK, (
        f"validate: {validate_peak / MiB:.0f} MiB for {estimate / MiB:.1f} MiB"
    )
    pixels, decode_peak = peak_bytes(lambda: images.decode_bgr(data))
    assert not isinstance(pixels, images.ImageRejected), f"validated but not decodable: {pixels}"
    assert isinstance(pixels, np.ndarray) and pixels.dtype == np.uint8
    assert pixels.shape == (valid.height, valid.width, 3), (
        f"decoded {pixels.shape}, validate said {valid.width}x{valid.height}"
    )
    assert decode_peak <= MEMORY_FACTOR * estimate + MEMORY_SLACK, (
        f"decode: {decode_peak / MiB:.0f} MiB for {estimate / MiB:.1f} MiB"
    )
    if valid.format == "JPEG":
        # Validated for detection (decoded in full): accepted alike, and its pixels, if kept, are decode_bgr's.
        shared, shared_peak = peak_bytes(
            lambda: images.validate(data, LIMIT_BYTES, max_pixels, pixels_up_to=LIMIT_BYTES)
        )
        assert isinstance(shared, images.ValidImage), f"accepted at reduced scale, refused in full: {shared}"
        assert (shared.width, shared.height) == (valid.width, valid.height)
        assert shared.pixels is None or np.array_equal(shared.pixels, pixels)
        assert shared_peak <= MEMORY_FACTOR * estimate + MEMORY_SLACK, (
            f"validate in full: {shared_peak / MiB:.0f} MiB for {estimate / MiB:.1f} MiB"
        )
    return valid


def check_decode_any(data: bytes, max_pixels: int = LIMIT_PIXELS) -> None:
    """decode_bgr (and decoded_bytes) of bytes validate refused: an array or ImageRejected, nothing else."""
    try:
        estimate = images.decoded_bytes(data)
    except images.ImageRejected:
        estimate = None
    if estimate is not None and estimate > max_pixels * 4:
        return  # do not ask a decoder to allocate what the header declares
    try:
        pixels = images.decode_bgr(data)
    except images.ImageRejected as exc:
        assert str(exc)
        return
    assert pixels.dtype == np.uint8 and pixels.ndim == 3 and pixels.shape[2] == 3


# --- seeds -----------------------------------------------------------------------------------------------------


def _save(image: Image.Image, fmt: str, **params: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **params)
    return out.getvalue()


def _cv2_encode(ext: str, pixels: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(ext, pixels)
    assert ok
    return encoded.tobytes()


@functools.cache
def seeds() -> dict[str, bytes]:
    """Real photos, and small encodings of them in every supported format (small: mutants decode fast)."""
    out = {f"photo-{p.stem}.jpg": p.read_bytes() for p in sorted(PHOTOS.glob("*.jpg"))}
    dog = Image.open(PHOTOS / "dog.jpg")
    small = dog.convert("RGB").resize((96, 72))
    gray16 = np.asarray(small.convert("L"), dtype=np.uint16) * 257
    bgr16 = cv2.cvtColor(np.asarray(small), cv2.COLOR_RGB2BGR).astype(np.uint16) * 257
    rotated = Image.Exif()
    rotated[0x0112] = 6
    out |= {
        "small.jpg": _save(small, "JPEG", quality=90),
        "small-progressive.jpg": _save(small, "JPEG", progressive=True),
        "small-cmyk.jpg": _save(small.convert("CMYK"), "JPEG"),
        "small-gray.jpg": _save(small.convert("L"), "JPEG"),
        "small-rotated.jpg": _save(small, "JPEG", exif=rotated.tobytes()),
        "small.png": _save(small, "PNG"),
        "small-rgba.png": _save(small.convert("RGBA"), "PNG"),
        "small-palette.png": _save(small.convert("P"), "PNG"),
        "small-16bit-gray.png": _save(Image.fromarray(gray16), "PNG"),
        "small-16bit-rgb.png": _cv2_encode(".png", bgr16),
        "small-rotated.png": _save(small, "PNG", exif=rotated.tobytes()),
        "small.webp": _save(small, "WEBP", quality=80),
        "small-lossless.webp": _save(small.convert("RGBA"), "WEBP", lossless=True),
        "small.tif": _save(small, "TIFF"),
        "small-deflate.tif": _save(small, "TIFF", compression="tiff_deflate"),
        "small-16bit-gray.tif": _save(Image.fromarray(gray16), "TIFF"),
        "small-16bit-rgb.tif": _cv2_encode(".tiff", bgr16),
        "small.bmp": _save(small, "BMP"),
        "small-palette.bmp": _save(small.convert("P"), "BMP"),
    }
    return out


SEED_NAMES = sorted(
    ["photo-dog.jpg", "photo-eagle.jpg", "photo-giraffe.jpg", "photo-horses.jpg", "photo-person.jpg"]
    + ["small.jpg", "small-progressive.jpg", "small-cmyk.jpg", "small-gray.jpg", "small-rotated.jpg"]
    + [
        "small.png",
        "small-rgba.png",
        "small-palette.png",
        "small-16bit-gray.png",
        "small-16bit-rgb.png",
        "small-rotated.png",
    ]
    + [
        "small.webp",
        "small-lossless.webp",
        "small.tif",
        "small-deflate.tif",
        "small-16bit-gray.tif",
        "small-16bit-rgb.tif",
    ]
    + ["small.bmp", "small-palette.bmp"]
)


def test_every_seed_is_valid_and_decodable() -> None:
    assert sorted(seeds()) == SEED_NAMES
    for name, data in seeds().items():
        assert check_image(data) is not None, name


# --- mutations -------------------------------------------------------------------------------------------------

INTERESTING = [
    b"\x00",
    b"\xff",
    b"\x7f",
    b"\x80",
    b"\x00\x00",
    b"\xff\xff",
    b"\x7f\xff",
    b"\x80\x00",
    b"\x00\x00\x00\x00",
    b"\xff\xff\xff\xff",
    b"\x7f\xff\xff\xff",
    b"\x00\x01\x00\x00",
]
EXIF_TAGS = [
    0x0112,
    0x0100,
    0x0101,
    0x0102,
    0x0103,
    0x0106,
    0x0111,
    0x0115,
    0x0116,
    0x0117,
    0x011A,
    0x0128,
    0x0131,
    0x0132,
    0x013B,
    0x0201,
    0x0202,
    0x0213,
    0x8769,
    0x8825,
    0xA005,
    0x927C,
    0x9286,
    0x9003,
    0x0001,
    0x0002,
    0xFFFF,
]
COUNTS = [0, 1, 2, 3, 4, 255, 0xFFFF, 0x10000, 0x7FFFFFFF, 0xFFFFFFFF]


@st.composite
def raw_exif(draw: st.DrawFn) -> bytes:
    """A TIFF-structured EXIF block with arbitrary entries: any tag type, huge counts, offsets anywhere
    (including back at the IFD itself, so sub-IFD pointers loop), optionally a second IFD."""
    big_endian = draw(st.booleans())
    order = ">" if big_endian else "<"
    entries = []
    for _ in range(draw(st.integers(min_value=0, max_value=8))):
        tag = draw(st.one_of(st.sampled_from(EXIF_TAGS), st.integers(min_value=0, max_value=0xFFFF)))
        # mostly the 12 real types with small counts (values inline, read back as the wrong Python type for
        # a well-known tag), sometimes invalid types, huge counts and offsets anywhere
        kind = draw(st.one_of(st.integers(min_value=1, max_value=12), st.integers(min_value=0, max_value=20)))
        count = draw(
            st.one_of(
                st.integers(min_value=0, max_value=4),
                st.sampled_from(COUNTS),
                st.integers(min_value=0, max_value=2**32 - 1),
            )
        )
        value = draw(
            st.one_of(
                st.integers(min_value=0, max_value=9),
                st.sampled_from([0xFFFF, 0x10000, 0xFFFFFFFF, 8, 16]),
                st.integers(min_value=0, max_value=2**32 - 1),
            )
        )
        entries.append(struct.pack(order + "HHII", tag, kind, count, value))
    ifd = struct.pack(order + "H", len(entries)) + b"".join(entries)
    next_ifd = draw(st.sampled_from([0, 8, 0xFFFFFFFF, 16]))
    body = (
        (b"MM\x00*" if big_endian else b"II*\x00")
        + struct.pack(order + "I", 8)
        + ifd
        + struct.pack(order + "I", next_ifd)
    )
    return body + draw(st.binary(max_size=64))


_EXIF_VALUES = st.one_of(
    st.integers(min_value=-(2**31), max_value=2**32 - 1),
    st.tuples(st.integers(min_value=0, max_value=2**16 - 1), st.integers(min_value=0, max_value=2**16 - 1)),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.binary(max_size=20),
    st.builds(
        TiffImagePlugin.IFDRational, st.integers(min_value=-10, max_value=10), st.integers(min_value=0, max_value=3)
    ),
)


@st.composite
def pillow_exif(draw: st.DrawFn) -> bytes:
    """EXIF written by Pillow's own Image.Exif, with odd types for well-known tags (e.g. a rational
    orientation, a string width) and nested IFDs; falls back to raw bytes when Pillow refuses to write it."""
    exif = Image.Exif()
    for tag in draw(st.lists(st.sampled_from(EXIF_TAGS), max_size=6)):
        if tag in (0x8769, 0x8825, 0xA005):
            exif.get_ifd(tag).update({draw(st.sampled_from(EXIF_TAGS)): draw(_EXIF_VALUES)})
        else:
            exif[tag] = draw(_EXIF_VALUES)
    try:
        return exif.tobytes()[len(b"Exif\x00\x00") :]
    except Exception:
        return draw(raw_exif())


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)


def _xmp(orientation: str) -> bytes:
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f'<rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="{orientation}"/>'
        "</rdf:RDF></x:xmpmeta>"
    ).encode()


def splice_metadata(data: bytes, kind: str, payload: bytes) -> bytes:
    """Insert an EXIF or XMP block where the format keeps it (JPEG APP1, PNG eXIf/iTXt, WebP by re-saving)."""
    if data[:2] == b"\xff\xd8":
        body = (b"Exif\x00\x00" if kind == "exif" else b"http://ns.adobe.com/xap/1.0/\x00") + payload
        body = body[: 65535 - 2]
        return data[:2] + b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body + data[2:]
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        chunk = (
            _png_chunk(b"eXIf", payload)
            if kind == "exif"
            else _png_chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + payload)
        )
        idat = data.find(b"IDAT")
        at = idat - 4 if idat > 8 else 33
        return data[:at] + chunk + data[at:]
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        try:
            image = Image.open(io.BytesIO(data))
            return _save(image, "WEBP", **({"exif": b"Exif\x00\x00" + payload} if kind == "exif" else {"xmp": payload}))
        except Exception:
            return data
    return data


def edit_tiff_entry(data: bytes, index: int, kind: int, count: int, value: int) -> bytes:
    """Overwrite one entry of a TIFF's first IFD (type, count, value/offset), keeping its tag."""
    if data[:4] not in (b"II*\x00", b"MM\x00*"):
        return data
    order = "<" if data[:2] == b"II" else ">"
    (ifd,) = struct.unpack(order + "I", data[4:8])
    if ifd + 2 > len(data):
        return data
    (entries,) = struct.unpack(order + "H", data[ifd : ifd + 2])
    if entries == 0:
        return data
    at = ifd + 2 + 12 * (index % entries)
    if at + 12 > len(data):
        return data
    (tag,) = struct.unpack(order + "H", data[at : at + 2])
    return data[:at] + struct.pack(order + "HHII", tag, kind, count, value) + data[at + 12 :]


@st.composite
def mutants(draw: st.DrawFn) -> bytes:
    data = seeds()[draw(st.sampled_from(SEED_NAMES))]
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        size = len(data)
        if not size:
            break
        at = draw(st.integers(min_value=0, max_value=max(size - 1, 0)))
        action = draw(
            st.sampled_from(
                [
                    "flip",
                    "replace",
                    "interesting",
                    "truncate",
                    "delete",
                    "duplicate",
                    "insert",
                    "exif",
                    "xmp",
                    "tiff-entry",
                ]
            )
        )
        if action == "flip":
            data = data[:at] + bytes([data[at] ^ (1 << draw(st.integers(min_value=0, max_value=7)))]) + data[at + 1 :]
        elif action == "replace":
            piece = draw(st.binary(min_size=1, max_size=8))
            data = data[:at] + piece + data[at + len(piece) :]
        elif action == "interesting":
            piece = draw(st.sampled_from(INTERESTING))
            data = data[:at] + piece + data[at + len(piece) :]
        elif action == "truncate":
            data = data[:at]
        elif action == "delete":
            data = data[:at] + data[at + draw(st.integers(min_value=1, max_value=4096)) :]
        elif action == "duplicate":
            chunk = data[at : at + draw(st.integers(min_value=1, max_value=4096))]
            to = draw(st.integers(min_value=0, max_value=size))
            data = data[:to] + chunk * draw(st.integers(min_value=1, max_value=3)) + data[to:]
        elif action == "insert":
            data = data[:at] + draw(st.binary(min_size=1, max_size=64)) + data[at:]
        elif action == "exif":
            data = splice_metadata(data, "exif", draw(st.one_of(raw_exif(), pillow_exif())))
        elif action == "xmp":
            data = splice_metadata(data, "xmp", _xmp(draw(st.sampled_from(["1", "3", "5", "6", "8", "9", "0", "x"]))))
        else:
            kind = draw(st.integers(min_value=0, max_value=20))
            count = draw(st.sampled_from(COUNTS))
            data = edit_tiff_entry(
                data,
                draw(st.integers(min_value=0, max_value=30)),
                kind,
                count,
                draw(st.sampled_from([0, 1, 2, 8, 16, 32, 64, 0xFFFF, 0xFFFFFFFF])),
            )
    return data


@fuzz_settings(700)
@given(mutants())
def test_mutated_images(data: bytes) -> None:
    check_image(data)


@fuzz_settings(200)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes(data: bytes) -> None:
    check_image(data)


@fuzz_settings(300)
@given(
    st.sampled_from(["small.jpg", "small.png", "small.webp", "small.tif", "photo-dog.jpg", "small-rotated.jpg"]),
    st.one_of(raw_exif(), pillow_exif()),
    st.sampled_from([None, "1", "6"]),
)
def test_exif_blocks(seed: str, exif: bytes, xmp_orientation: str | None) -> None:
    """Arbitrary EXIF blocks (and an XMP orientation, which makes Pillow rewrite the EXIF when transposing)."""
    data = seeds()[seed]
    if seed.endswith(".tif"):
        try:
            data = _save(Image.open(io.BytesIO(data)), "TIFF", exif=b"Exif\x00\x00" + exif)
        except Exception:
            return
    else:
        data = splice_metadata(data, "exif", exif)
    if xmp_orientation:
        data = splice_metadata(data, "xmp", _xmp(xmp_orientation))
    check_image(data)


# --- differential: what Pillow reads, OpenCV must decode --------------------------------------------------------

PIL_MODES = [
    "1",
    "L",
    "LA",
    "La",
    "P",
    "PA",
    "RGB",
    "RGBA",
    "RGBa",
    "RGBX",
    "CMYK",
    "YCbCr",
    "LAB",
    "HSV",
    "I",
    "F",
    "I;16",
    "I;16B",
    "I;16L",
    "I;16N",
]
SAVE_OPTIONS: dict[str, list[dict[str, Any]]] = {
    "JPEG": [{}],
    "PNG": [{}],
    "WEBP": [{}, {"lossless": True}],
    "TIFF": [
        {},
        {"compression": "tiff_deflate"},
        {"compression": "tiff_lzw"},
        {"compression": "packbits"},
        {"compression": "jpeg"},
    ],
    "BMP": [{}],
}


def _in_mode(mode: str) -> Image.Image:
    base = Image.open(PHOTOS / "dog.jpg").convert("RGB").resize((64, 48))
    if mode.startswith("I;16"):
        return Image.fromarray(np.asarray(base.convert("L"), dtype=np.uint16) * 257).convert(mode)
    return base.convert(mode)


def _encodings() -> list[tuple[str, str, dict[str, Any], bytes]]:
    """Every (format, mode, save options) Pillow can write, with the bytes it writes."""
    written = []
    for fmt, all_options in SAVE_OPTIONS.items():
        for mode in PIL_MODES:
            for options in all_options:
                try:
                    written.append((fmt, mode, options, _save(_in_mode(mode), fmt, **options)))
                except (OSError, ValueError, KeyError, TypeError):
                    continue  # Pillow cannot write this mode in this format
    return written


@pytest.mark.parametrize(
    "fmt, mode, options, data",
    _encodings(),
    ids=lambda v: (
        "" if isinstance(v, bytes) else "-".join(map(str, v.values())) or "default" if isinstance(v, dict) else str(v)
    ),
)
def test_every_mode_and_format_is_refused_or_decodable(
    fmt: str, mode: str, options: dict[str, Any], data: bytes
) -> None:
    valid = check_image(data)
    if valid is None:
        with pytest.raises(images.ImageRejected, match="unsupported pixel format"):
            images.validate(data, LIMIT_BYTES, LIMIT_PIXELS)


UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_matches_pillow(fmt: str, orientation: int) -> None:
    """decode_bgr and the thumbnail turn every EXIF orientation upright as Pillow's transpositions do.
    (The reference is built from the stored pixels: Pillow's exif_transpose ignores a TIFF's orientation
    once the image is loaded.)"""
    exif = Image.Exif()
    exif[0x0112] = orientation
    stored = Image.open(PHOTOS / "dog.jpg").convert("RGB").resize((96, 64))
    data = _save(stored, fmt, exif=exif.tobytes(), **({"quality": 95} if fmt in ("JPEG", "WEBP") else {}))
    valid = check_image(data)
    assert valid is not None
    reference = stored.transpose(UPRIGHT[orientation]) if orientation in UPRIGHT else stored
    upright = np.asarray(reference)
    pixels = cv2.cvtColor(images.decode_bgr(data), cv2.COLOR_BGR2RGB)
    assert pixels.shape == upright.shape == (valid.height, valid.width, 3)
    assert np.abs(pixels.astype(int) - upright.astype(int)).mean() < 4
    thumbnail = np.asarray(Image.open(io.BytesIO(valid.thumbnail_jpeg)).convert("RGB").resize(reference.size))
    assert np.abs(thumbnail.astype(int) - upright.astype(int)).mean() < 12


def test_jpeg_with_an_mpf_index_is_a_jpeg() -> None:
    """Pillow opens a JPEG carrying further images (MPF: phones' previews, depth maps) as "MPO"; OpenCV
    decodes its first image like any JPEG, so validate accepts it as one."""
    image = Image.open(PHOTOS / "dog.jpg").convert("RGB").resize((96, 64))
    data = _save(image, "MPO", save_all=True, append_images=[image.resize((48, 32))])
    assert Image.open(io.BytesIO(data)).format == "MPO"
    valid = check_image(data)
    assert valid is not None and valid.format == "JPEG" and (valid.width, valid.height) == (96, 64)
    assert images.sniff_content_type(data) == "image/jpeg"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF"])
@pytest.mark.parametrize("orientation", ["6", "8", "3"])
def test_xmp_orientation_is_consistent(fmt: str, orientation: str) -> None:
    """An orientation given only in XMP: validate's size and decode_bgr's pixels agree."""
    stored = Image.open(PHOTOS / "dog.jpg").convert("RGB").resize((96, 64))
    try:
        data = _save(stored, fmt, xmp=_xmp(orientation))
    except TypeError:
        pytest.skip(f"Pillow cannot write XMP into {fmt}")
    assert check_image(data) is not None


# --- memory ----------------------------------------------------------------------------------------------------


def _declare_size(data: bytes, width: int, height: int) -> bytes:
    """The same file with another size in its header (PNG IHDR with a fixed CRC, JPEG SOF0)."""
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        ihdr = b"IHDR" + struct.pack(">II", width, height) + data[24:29]
        return data[:8] + struct.pack(">I", 13) + ihdr + struct.pack(">I", zlib.crc32(ihdr) & 0xFFFFFFFF) + data[33:]
    sof = data.find(b"\xff\xc0")
    return data[: sof + 5] + struct.pack(">HH", height, width) + data[sof + 9 :]


@fuzz_settings(60)
@given(
    st.sampled_from(["small.png", "small.jpg", "photo-dog.jpg"]),
    st.integers(min_value=2001, max_value=65535),
    st.integers(min_value=2001, max_value=65535),
)
def test_images_over_the_pixel_limit_are_refused_before_decoding(seed: str, width: int, height: int) -> None:
    """A small file declaring a huge size: refused from its header, without allocating its pixels."""
    data = _declare_size(seeds()[seed], width, height)
    outcome, peak = peak_bytes(lambda: images.validate(data, LIMIT_BYTES, max_pixels=4_000_000))
    assert isinstance(outcome, images.ImageRejected)
    assert "too large" in str(outcome) or "decompression bomb" in str(outcome)
    assert peak < 16 * MiB, f"{peak / MiB:.0f} MiB allocated to refuse a {width}x{height} header"


@pytest.mark.skipif(not CAN_MEASURE, reason="needs /proc/self/clear_refs to measure peak memory")
def test_a_png_chunk_longer_than_the_file_is_not_allocated() -> None:
    """OpenCV allocates a PNG chunk's declared length before reading it (2 GiB for a 9 KB file whose IDAT
    says 0x7fffffff): decode_bgr leaves such files to Pillow."""
    data = seeds()["small.png"]
    idat = data.find(b"IDAT") - 4
    data = data[:idat] + struct.pack(">I", 128 * MiB) + data[idat + 4 :]
    outcome, peak = peak_bytes(lambda: images.decode_bgr(data))
    assert peak < 16 * MiB, f"{peak / MiB:.0f} MiB to decode a {len(data)}-byte PNG"
    assert isinstance(outcome, (np.ndarray, images.ImageRejected))


@pytest.mark.skipif(not CAN_MEASURE, reason="needs /proc/self/clear_refs to measure peak memory")
@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "P"])
def test_validate_holds_about_one_copy_of_a_large_png(mode: str) -> None:
    """A 16 MP PNG that compresses to little: validate's peak stays near one decoded image, not three."""
    side = 4000
    pixels = np.zeros((side, side, 3), np.uint8)
    pixels[::40, :, 0] = 255
    pixels[:, ::40, 1] = 200
    data = _save(Image.fromarray(pixels).convert(mode), "PNG")
    del pixels
    estimate = images.decoded_bytes(data)
    valid, peak = peak_bytes(lambda: images.validate(data, LIMIT_BYTES, max_pixels=20_000_000))
    assert isinstance(valid, images.ValidImage) and (valid.width, valid.height) == (side, side)
    # Pillow holds RGB(A) as 4 bytes a pixel: 4/3 of the estimate; everything else is strips and thumbnails.
    assert peak <= 1.6 * estimate + 16 * MiB, (
        f"validate {mode}: {peak / MiB:.0f} MiB for {estimate / MiB:.0f} MiB decoded"
    )


# --- regressions -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", regression_files("images"), ids=lambda p: p.name)
def test_regressions(path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_image(path.read_bytes())
