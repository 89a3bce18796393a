"""Images (PNG, JPEG, TIFF, WebP): screenshots, photos and scans, read by OCR."""

from __future__ import annotations

import io

from django.utils.translation import gettext

from ingest.formats import PNG, Block, IngestError, Parsed, ParseLimits, split_paragraphs
from ingest.ocr import OcrError, Reader


def parse_image(data: bytes, stem: str, limits: ParseLimits) -> Parsed:
    """A screenshot, a photo or a scan: its text by OCR; each frame of a TIFF is a page."""
    from PIL import Image, ImageSequence, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError) as error:
        raise IngestError(_damaged(error)) from None
    width, height = image.size
    if width * height > limits.max_pixels:
        raise IngestError(
            gettext(
                "The image is %(width)d × %(height)d pixels; the limit is %(limit).0f megapixels "
                "(OCR_MAX_PIXELS). Scale it down."
            )
            % {"width": width, "height": height, "limit": limits.max_pixels / 1e6}
        )
    reader = Reader(max_pages=limits.max_ocr_pages, max_seconds=limits.max_ocr_seconds)
    blocks: list[Block] = []
    frames = getattr(image, "n_frames", 1)
    if frames > limits.max_pages:
        raise IngestError(
            gettext("The image has %(n)d pages; the limit is %(limit)d.")
            % {"n": frames, "limit": limits.max_pages}
        )
    try:
        texts = reader.read_all(ImageSequence.Iterator(image))
        for number, text in enumerate(texts, start=1):
            page = number if frames > 1 else None
            blocks.extend(Block(p, (), page) for p in split_paragraphs(text))
    except OcrError as error:
        raise IngestError(str(error)) from None
    except OSError as error:
        raise IngestError(_damaged(error)) from None
    media_type = Image.MIME.get(image.format or "", PNG)
    return Parsed(media_type, stem, blocks, frames, list(range(1, frames + 1)), reader)


def _damaged(error: Exception) -> str:
    return gettext("The image is damaged and cannot be read (%(error)s).") % {"error": error}
