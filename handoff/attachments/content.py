"""What a sent file really is, decided by its bytes, and the copy that is kept.

The name and the ``Content-Type`` a client gives are only advice: the type is
read from the first bytes (:func:`sniff`), and only four are taken: JPEG, PNG,
WebP and PDF. Everything else is refused, SVG and HTML included (both can
carry scripts that would run on the gateway's origin). An image is decoded and
encoded again (:func:`clean`): what is kept is the pixels, turned upright as
the camera said, and nothing else, so EXIF metadata (a phone's GPS position,
its serial number) and any bytes smuggled after the image are gone. A PDF is
kept as sent, and is only ever served as a download.
"""
from __future__ import annotations

import hashlib
import io
import re
import unicodedata
import warnings
from dataclasses import dataclass
from typing import Optional

JPEG, PNG, WEBP, PDF = "image/jpeg", "image/png", "image/webp", "application/pdf"
#: the types taken, and the file name extension each is given
EXTENSIONS = {JPEG: "jpg", PNG: "png", WEBP: "webp", PDF: "pdf"}
#: Pillow's format name of each image type
_FORMATS = {JPEG: "JPEG", PNG: "PNG", WEBP: "WEBP"}
#: larger images are refused (a small file can decode to gigabytes: a "decompression bomb");
MAX_PIXELS = 52_000_000  # a 50-megapixel phone camera's full-size photo fits
NAME_LIMIT = 100


class Refused(ValueError):
    """The file is not taken; the message says why, in words a shopper reads."""


NOT_ALLOWED = ("Only photos (JPEG, PNG or WebP) and PDF documents can be sent. "
               "This file is none of those, whatever its name says, so it was not sent.")


def sniff(data: bytes) -> str:
    """The file's type by its first bytes; :class:`Refused` unless one of :data:`EXTENSIONS`."""
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    if data.startswith(b"%PDF-"):
        return PDF
    raise Refused(NOT_ALLOWED)


@dataclass(frozen=True)
class Cleaned:
    """The bytes to keep and what they are."""

    data: bytes
    content_type: str
    name: str
    width: Optional[int] = None
    height: Optional[int] = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def clean(data: bytes, name: Optional[str]) -> Cleaned:
    """The copy of ``data`` to keep (see module docs); :class:`Refused` when it is not taken."""
    if not data:
        raise Refused("This file is empty.")
    kind = sniff(data)
    if kind == PDF:
        return Cleaned(data, kind, safe_name(name, kind))
    return _reencoded(data, kind, safe_name(name, kind))


def _reencoded(data: bytes, kind: str, name: str) -> Cleaned:
    from PIL import Image, ImageOps

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[_FORMATS[kind]]) as opened:
                if opened.width * opened.height > MAX_PIXELS:
                    raise Refused("This picture is too large (too many pixels); please send a smaller one.")
                opened.load()
                image = ImageOps.exif_transpose(opened)  # upright, as the EXIF orientation said
    except Refused:
        raise
    except Exception:  # Pillow's own errors, truncated files, bombs: all "not a picture we can read"
        raise Refused("This picture could not be read; it may be damaged. Please send another one.") from None
    if kind == JPEG and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    out = io.BytesIO()
    # no exif=, no icc_profile=, no pnginfo=: the new file carries the pixels only
    options = {JPEG: {"quality": 88}, WEBP: {"quality": 88}, PNG: {}}[kind]
    image.save(out, format=_FORMATS[kind], **options)
    return Cleaned(out.getvalue(), kind, name, image.width, image.height)


_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\\"<>:|?*]+")


def safe_name(name: Optional[str], kind: str) -> str:
    """A display and download name: the base name a client gave, without
    control or path characters, at most :data:`NAME_LIMIT` characters, with
    the extension of the type the file really is."""
    base = unicodedata.normalize("NFC", (name or "").replace("\\", "/").rsplit("/", 1)[-1])
    base = _UNSAFE.sub(" ", base).strip(" .")
    stem = base.rsplit(".", 1)[0].strip(" .") if "." in base else base
    stem = stem[: NAME_LIMIT - 6] or {PDF: "document"}.get(kind, "photo")
    return f"{stem}.{EXTENSIONS[kind]}"
