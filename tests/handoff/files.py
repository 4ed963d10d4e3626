"""Files for the attachment tests, made here (Pillow), never downloaded: a
phone photo with a GPS position in its EXIF, a small PDF, and files that lie
about what they are."""
from __future__ import annotations

import io

#: Lagos, as a phone writes it: degrees, minutes, seconds
LAGOS_GPS = {1: "N", 2: (6.0, 27.0, 14.0), 3: "E", 4: (3.0, 23.0, 45.0)}


def photo_with_gps(size: tuple = (64, 48), fmt: str = "JPEG") -> bytes:
    """A photo whose EXIF names the camera and where it was taken."""
    from PIL import Image, ImageDraw

    w, h = size
    image = Image.new("RGB", size, (226, 232, 240))
    draw = ImageDraw.Draw(image)  # a parcel with a dented corner, enough to look like a photo of one
    draw.rectangle((w // 6, h // 4, w * 5 // 6, h * 7 // 8), fill=(180, 130, 80), outline=(120, 80, 40), width=2)
    draw.polygon([(w * 5 // 6, h // 4), (w * 2 // 3, h // 4), (w * 5 // 6, h // 2)], fill=(140, 95, 55))
    draw.line((w // 2, h // 4, w // 2, h * 7 // 8), fill=(230, 200, 120), width=max(1, w // 40))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "Model X"  # Model
    exif[0x8825] = LAGOS_GPS  # the GPS IFD
    out = io.BytesIO()
    image.save(out, format=fmt, exif=exif.tobytes())
    data = out.getvalue()
    assert b"PhoneMaker" in data
    return data


def has_metadata(data: bytes) -> bool:
    """Whether an image carries EXIF (any), as Pillow and the raw bytes tell."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return bool(image.getexif()) or "exif" in image.info or b"PhoneMaker" in data or b"Exif\x00" in data


def pdf(text: str = "Receipt KH-204518") -> bytes:
    """A one-page PDF (Pillow writes it)."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (80, 40), (255, 255, 255)).save(out, format="PDF", title=text)
    return out.getvalue()


HTML_AS_PNG = b"<!DOCTYPE html><html><body><script>alert('x')</script></body></html>"
SVG = (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
       b'<rect width="10" height="10"/></svg>')
#: a PNG signature and then nothing a decoder can read
BROKEN_PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
GIF = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,"
       b"\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
