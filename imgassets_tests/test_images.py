"""Image validation against the bad (and unusual but good) inputs users send."""

import io
import os

import cv2
import numpy as np
import pytest
from PIL import Image

from imgassets.core import images
from imgassets_tests.conftest import PHOTOS

LIMIT_BYTES = 64 * 1024 * 1024
LIMIT_PIXELS = 50_000_000
DOG = (PHOTOS / "dog.jpg").read_bytes()


def _encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **params)
    return out.getvalue()


def _validate(data: bytes) -> images.ValidImage:
    return images.validate(data, LIMIT_BYTES, LIMIT_PIXELS)


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "empty file"),
        (DOG[: len(DOG) * 2 // 3], "truncated"),
        (os.urandom(5000), "not an image"),
        (b"hello, I am a text file\n" * 10, "not an image"),
        (_encode(Image.new("RGB", (1, 1)), "PNG"), "too small: 1x1"),
        (_encode(Image.new("RGB", (40, 40)), "GIF"), "unsupported image format 'GIF'"),
    ],
)
def test_bad_images_get_specific_reasons(data: bytes, reason: str) -> None:
    with pytest.raises(images.ImageRejected, match=reason):
        _validate(data)


def test_decompression_bomb_is_refused_before_decoding() -> None:
    # A PNG declaring 30000×30000 px: rejected from the header, never allocated.
    bomb = _encode(Image.new("1", (30000, 30000)), "PNG", optimize=True)
    assert len(bomb) < 2_000_000
    with pytest.raises(images.ImageRejected, match=r"decompression bomb refused: Image size \(900000000 pixels\)"):
        _validate(bomb)


def test_oversized_file_is_refused() -> None:
    with pytest.raises(images.ImageRejected, match="file too large"):
        images.validate(DOG, max_bytes=100_000, max_pixels=LIMIT_PIXELS)


def test_a_50_mb_file_within_limits_is_accepted() -> None:
    big = np.random.default_rng(1).integers(0, 255, (3000, 5000, 3), dtype=np.uint8)
    data = _encode(Image.fromarray(big), "BMP")
    assert len(data) > 40_000_000
    assert _validate(data).width == 5000


def test_sha256_mismatch_is_reported() -> None:
    with pytest.raises(images.ImageRejected, match="sha256 mismatch"):
        images.validate(DOG, LIMIT_BYTES, LIMIT_PIXELS, expected_sha256="0" * 64)


@pytest.mark.parametrize(
    "fmt, mode, params",
    [
        ("PNG", "RGB", {}),
        ("WEBP", "RGB", {}),
        ("BMP", "RGB", {}),
        ("TIFF", "RGB", {}),
        ("JPEG", "L", {}),
        ("JPEG", "CMYK", {}),
        ("PNG", "I;16", {}),
        ("PNG", "RGBA", {}),
    ],
)
def test_formats_and_modes_are_accepted_and_decodable(fmt: str, mode: str, params: dict) -> None:
    source = Image.open(io.BytesIO(DOG))
    image = (
        source.convert(mode)
        if mode != "I;16"
        else Image.fromarray(np.asarray(source.convert("L"), dtype=np.uint16) * 257)
    )
    data = _encode(image, fmt, **params)
    valid = _validate(data)
    assert (valid.width, valid.height) == (768, 576)
    assert valid.format == fmt
    pixels = images.decode_bgr(data)
    assert pixels.shape == (576, 768, 3) and pixels.dtype == np.uint8
    assert Image.open(io.BytesIO(valid.thumbnail_jpeg)).size == (320, 240)


def test_exif_rotated_photo_is_measured_and_decoded_upright() -> None:
    source = Image.open(io.BytesIO(DOG))
    # Store the pixels rotated and tag them "rotate 90° CW to display" (orientation 6).
    stored = source.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    data = _encode(stored, "JPEG", exif=exif.tobytes(), quality=95)
    valid = _validate(data)
    assert (valid.width, valid.height) == (768, 576)
    pixels = images.decode_bgr(data)
    assert pixels.shape[:2] == (576, 768)
    upright = cv2.cvtColor(np.asarray(source), cv2.COLOR_RGB2BGR)
    assert np.abs(pixels.astype(int) - upright.astype(int)).mean() < 6
    assert Image.open(io.BytesIO(valid.thumbnail_jpeg)).size == (320, 240)


@pytest.mark.parametrize("pixels_up_to", [0, LIMIT_BYTES], ids=["reduced-scale decode", "full decode"])
@pytest.mark.parametrize("photo", sorted(PHOTOS.glob("*.jpg")), ids=lambda path: path.name)
def test_thumbnail_is_as_close_to_the_photo_as_pillows_own(photo, pixels_up_to: int) -> None:
    # The reference: Lanczos over the full decode, no reduction step. Pillow's own thumbnail (bicubic after its
    # reductions), stored as the pipeline stores thumbnails, is the bar.
    data = photo.read_bytes()
    full = Image.open(io.BytesIO(data)).convert("RGB")
    valid = images.validate(data, LIMIT_BYTES, LIMIT_PIXELS, pixels_up_to=pixels_up_to)
    thumbnail = Image.open(io.BytesIO(valid.thumbnail_jpeg))
    assert max(thumbnail.size) == images.THUMBNAIL_SIDE
    pillows = full.copy()
    pillows.thumbnail((images.THUMBNAIL_SIDE, images.THUMBNAIL_SIDE))
    pillows = Image.open(io.BytesIO(_encode(pillows.resize(thumbnail.size), "JPEG", quality=80)))
    reference = np.asarray(full.resize(thumbnail.size, Image.Resampling.LANCZOS), dtype=int)

    def distance(image: Image.Image) -> float:
        return float(np.abs(np.asarray(image, dtype=int) - reference).mean())

    assert distance(thumbnail) <= 1.25 * distance(pillows), (distance(thumbnail), distance(pillows))


def _jpegs_to_share() -> list[tuple[str, bytes]]:
    """Real photos, and the JPEG variants users send: grayscale, progressive, 4:4:4, EXIF-rotated."""
    source = Image.open(io.BytesIO(DOG))
    exif = Image.Exif()
    exif[0x0112] = 6
    return [(path.name, path.read_bytes()) for path in sorted(PHOTOS.glob("*.jpg"))] + [
        ("grayscale", _encode(source.convert("L"), "JPEG")),
        ("progressive", _encode(source, "JPEG", progressive=True, quality=90)),
        ("4:4:4", _encode(source, "JPEG", subsampling=0, quality=95)),
        ("rotated", _encode(source.transpose(Image.Transpose.ROTATE_90), "JPEG", exif=exif.tobytes())),
    ]


@pytest.mark.parametrize("name, data", _jpegs_to_share(), ids=[name for name, _ in _jpegs_to_share()])
def test_validation_keeps_exactly_the_detectors_pixels_of_a_jpeg(name: str, data: bytes) -> None:
    """One decode per image: a JPEG validated for detection gives the very pixels `decode_bgr` gives, so the
    detector sees the same input either way (Pillow and OpenCV decode with the same libjpeg-turbo)."""
    pixels = images.decode_bgr(data)
    valid = images.validate(data, LIMIT_BYTES, LIMIT_PIXELS, pixels_up_to=pixels.nbytes)
    assert valid.pixels is not None and valid.pixels.shape == (valid.height, valid.width, 3)
    assert np.array_equal(valid.pixels, pixels)
    assert valid.thumbnail_jpeg and (valid.width, valid.height) == (_validate(data).width, _validate(data).height)
    # Over the limit, or not asked: the reduced-scale decode, no pixels.
    assert images.validate(data, LIMIT_BYTES, LIMIT_PIXELS, pixels_up_to=pixels.nbytes - 1).pixels is None
    assert _validate(data).pixels is None


@pytest.mark.parametrize("fmt, mode", [("JPEG", "CMYK"), ("PNG", "RGB"), ("WEBP", "RGB")])
def test_validation_keeps_no_pixels_of_other_formats(fmt: str, mode: str) -> None:
    data = _encode(Image.open(io.BytesIO(DOG)).convert(mode), fmt)
    assert images.validate(data, LIMIT_BYTES, LIMIT_PIXELS, pixels_up_to=LIMIT_BYTES).pixels is None


def test_sniffing_reads_only_the_header() -> None:
    assert images.sniff_content_type(DOG[:20000]) == "image/jpeg"
    assert images.sniff_content_type(b"GIF89a....") is None
    assert images.sniff_content_type(b"") is None


@pytest.mark.parametrize("mode, kind", [("F", "32-bit floating-point"), ("I", "32-bit integer")])
def test_tiffs_opencv_cannot_decode_are_refused_by_validation(mode: str, kind: str) -> None:
    data = _encode(Image.open(io.BytesIO(DOG)).convert("L").convert(mode), "TIFF")
    with pytest.raises(images.ImageRejected, match=f"unsupported pixel format: TIFF with {kind} samples"):
        _validate(data)


def test_malformed_exif_does_not_reject_the_pixels() -> None:
    # Orientation 6 next to a resolution tag stored as text: Pillow's exif_transpose, which rewrites the EXIF,
    # raised TypeError on it; the orientation is applied without rewriting anything.
    exif = (
        b"II*\x00\x08\x00\x00\x00\x02\x00\x12\x01\x03\x00\x01\x00\x00\x00\x06\x00\x00\x00"
        b"\x1a\x01\x02\x00\x02\x00\x00\x00x\x00\x00\x00\x00\x00\x00\x00"
    )
    data = DOG[:2] + b"\xff\xe1" + (len(exif) + 8).to_bytes(2, "big") + b"Exif\x00\x00" + exif + DOG[2:]
    valid = _validate(data)
    assert (valid.width, valid.height) == (576, 768)
    assert images.decode_bgr(data).shape == (768, 576, 3)
    assert Image.open(io.BytesIO(valid.thumbnail_jpeg)).size == (240, 320)


def test_xmp_orientation_counts_for_size_and_pixels_alike() -> None:
    data = _encode(
        Image.open(io.BytesIO(DOG)),
        "JPEG",
        xmp=(
            b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            b'<rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="6"/></rdf:RDF></x:xmpmeta>'
        ),
    )
    valid = _validate(data)
    assert (valid.width, valid.height) == (576, 768)
    assert images.decode_bgr(data).shape == (768, 576, 3)


def test_decoding_refuses_what_it_cannot_read_with_image_rejected() -> None:
    for data in (b"", b"\x00", b"GIF89a", DOG[:100]):
        with pytest.raises(images.ImageRejected):
            images.decode_bgr(data)
    with pytest.raises(images.ImageRejected, match="too large"):
        images.decode_bgr(DOG, max_pixels=100_000)


@pytest.mark.parametrize(
    "mode, per_pixel",
    [("RGB", 3), ("L", 3), ("RGBA", 4), ("CMYK", 4), ("I;16", 3), ("P", 3)],
)
def test_decoded_bytes_comes_from_the_header(mode: str, per_pixel: int) -> None:
    source = Image.open(io.BytesIO(DOG))
    image = (
        Image.fromarray(np.asarray(source.convert("L"), dtype=np.uint16) * 257)
        if mode == "I;16"
        else source.convert(mode)
    )
    data = _encode(image, "TIFF" if mode == "CMYK" else "PNG")
    assert images.decoded_bytes(data) == 768 * 576 * per_pixel
    with pytest.raises(images.ImageRejected, match="unreadable image header"):
        images.decoded_bytes(b"not an image")
