"""PNG, JPEG and TIFF: metadata with Pillow, text with Tesseract. Pillow's bomb warning is an error here."""

from __future__ import annotations

import warnings

from documents.extractors.base import Extraction, ExtractionError, Limits, Rejected, TextCollector, clean_metadata
from documents.extractors.ocr import image_to_text, require_tesseract

EXIF_TAGS = {0x010E: "description", 0x013B: "author", 0x0132: "created", 0x8298: "copyright", 0x0110: "camera"}


def check_pixels(width: int, height: int, limits: Limits) -> None:
    if width * height > limits.max_image_pixels:
        raise Rejected(
            f"The image has {width}×{height} = {width * height:,} pixels; the limit is {limits.max_image_pixels:,} "
            "(a decompression bomb guard)."
        )


def _open(path: str, limits: Limits):
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = limits.max_image_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise Rejected(f"The image is over the pixel limit of {limits.max_image_pixels:,}: {exc}") from None
    except UnidentifiedImageError:
        raise ExtractionError("The image cannot be read: its format is not recognised or it is corrupt.") from None
    check_pixels(*image.size, limits)
    return image


def _metadata(image) -> dict:
    values = {
        "width": image.width,
        "height": image.height,
        "image_mode": image.mode,
        "image_format": image.format,
        "frames": getattr(image, "n_frames", 1),
    }
    dpi = image.info.get("dpi")
    if dpi:
        values["dpi"] = [round(float(d), 1) for d in dpi]
    try:
        exif = image.getexif()
    except Exception:  # a damaged EXIF block must not cost the picture
        exif = {}
    for tag, name in EXIF_TAGS.items():
        if tag in exif:
            values[name] = str(exif[tag])
    return clean_metadata(values)


def extract(path: str, *, mime_type: str, limits: Limits, metadata_only: bool = False) -> Extraction:
    image = _open(path, limits)
    with image:
        extraction = Extraction(metadata=_metadata(image), page_count=getattr(image, "n_frames", 1))
        if metadata_only:
            return extraction
        try:
            image.load()  # decodes: a truncated file fails here, before OCR
        except OSError as exc:
            raise ExtractionError(f"The image is truncated or corrupt: {exc}") from None
        require_tesseract()
        collector = TextCollector(limits.max_text_chars)
        frames = min(extraction.page_count or 1, limits.ocr_max_pages)
        for index in range(frames):
            try:
                image.seek(index)
                check_pixels(*image.size, limits)
                collector.add(image_to_text(image, languages=limits.ocr_languages))
            except (OSError, EOFError) as exc:
                extraction.failed_parts.append(f"frame {index + 1}: {exc}")
        if (extraction.page_count or 1) > frames:
            extraction.failed_parts.append(f"frames {frames + 1}-{extraction.page_count}: over the OCR page limit")
        extraction.metadata["ocr"] = True
        extraction.metadata["ocr_languages"] = limits.ocr_languages
        return collector.finish(extraction)
