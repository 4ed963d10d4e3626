"""What a sent file is and what is kept (handoff/attachments/content.py), on
files made here: every image type re-encoded without its metadata (EXIF,
PNG text, GPS), turned upright as its EXIF said, pixel bombs and lying
files refused, names made safe and given the extension of what they are."""
from __future__ import annotations

import io

import pytest
from PIL import Image, PngImagePlugin

from handoff.attachments.content import JPEG, PDF, PNG, WEBP, Refused, clean, safe_name, sniff

from . import files


@pytest.mark.parametrize("fmt, kind", [("JPEG", JPEG), ("PNG", PNG), ("WEBP", WEBP)])
def test_every_image_type_loses_its_exif(fmt: str, kind: str) -> None:
    data = files.photo_with_gps(fmt=fmt)
    kept = clean(data, "IMG_0001." + fmt.lower())
    assert kept.content_type == kind and sniff(kept.data) == kind
    assert not files.has_metadata(kept.data) and (kept.width, kept.height) == (64, 48)
    assert len(kept.sha256) == 64


def test_png_text_chunks_and_trailing_bytes_are_gone() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "patient: Ngozi, 12 Allen Avenue")
    out = io.BytesIO()
    Image.new("RGB", (10, 10), (0, 128, 0)).save(out, format="PNG", pnginfo=info)
    smuggled = out.getvalue() + b"<script>alert(1)</script>"
    kept = clean(smuggled, "scan.png").data
    assert b"Ngozi" not in kept and b"<script>" not in kept


def test_a_sideways_photo_is_kept_upright() -> None:
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to view
    Image.new("RGB", (60, 20), (10, 20, 30)).save(out, format="JPEG", exif=exif.tobytes())
    kept = clean(out.getvalue(), "x.jpg")
    assert (kept.width, kept.height) == (20, 60)


def test_a_pixel_bomb_is_refused() -> None:
    out = io.BytesIO()
    Image.new("1", (9000, 6000)).save(out, format="PNG")  # 54 megapixels in a few KB
    assert len(out.getvalue()) < 100_000
    with pytest.raises(Refused, match="too large"):
        clean(out.getvalue(), "bomb.png")


@pytest.mark.parametrize("data", [files.HTML_AS_PNG, files.SVG, files.GIF, b"PK\x03\x04zip",
                                  b"RIFF\x00\x00\x00\x00WAVE"])
def test_anything_else_is_refused_whatever_its_name(data: bytes) -> None:
    with pytest.raises(Refused, match="^Only photos"):
        clean(data, "photo.png")


def test_a_pdf_is_kept_as_sent() -> None:
    document = files.pdf()
    kept = clean(document, "Receipt.PDF")
    assert (kept.data, kept.content_type, kept.name) == (document, PDF, "Receipt.pdf")


@pytest.mark.parametrize("given, kind, name", [
    ("../../etc/passwd", PDF, "passwd.pdf"),
    ("C:\\Users\\ada\\scan.jpeg", JPEG, "scan.jpg"),
    ("photo.png", JPEG, "photo.jpg"),  # the name said PNG; the bytes said JPEG
    ("a\x00b\nc<d>.pdf", PDF, "a b c d.pdf"),
    (None, JPEG, "photo.jpg"),
    ("...", PDF, "document.pdf"),
    ("x" * 300 + ".webp", WEBP, "x" * 94 + ".webp"),
])
def test_names_are_made_safe(given: str, kind: str, name: str) -> None:
    assert safe_name(given, kind) == name
