"""Real files of every supported format, made here with the libraries themselves or by hand.

Each sample carries a distinctive phrase (``phrase(kind)``) and, where the format has them, a title
and an author, so that tests can check what the extractor read.
"""

from __future__ import annotations

import io
import json
import zipfile
from email.message import EmailMessage

TITLE = "Quarterly Zebra Report"
AUTHOR = "Ada Lovelace"


def phrase(kind: str) -> str:
    """A sentence unique to the kind: 'xylophone quokka docx marmalade'."""
    return f"xylophone quokka {kind} marmalade"


def pdf_bytes(text: str | None = None, *, pages: int = 1, title: str = TITLE, author: str = AUTHOR) -> bytes:
    """A valid PDF with a text layer (Helvetica), written by hand with a correct xref table."""
    text = text or phrase("pdf")
    objects = ["<< /Type /Catalog /Pages 2 0 R >>"]
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(pages))
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>")
    font_id = 3 + 2 * pages
    for i in range(pages):
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R "
            f"/Resources << /Font << /F1 {font_id} 0 R >> >> >>"
        )
        content = f"BT /F1 18 Tf 72 720 Td ({text} page {i + 1}) Tj ET"
        objects.append(f"<< /Length {len(content)} >>\nstream\n{content}\nendstream")
    objects.append("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    objects.append(f"<< /Title ({title}) /Author ({author}) /CreationDate (D:20240102030405Z) >>")
    info_id = len(objects)
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1"))
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info {info_id} 0 R >>\n".encode())
    out.write(f"startxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def docx_bytes(text: str | None = None) -> bytes:
    import docx

    document = docx.Document()
    document.core_properties.title = TITLE
    document.core_properties.author = AUTHOR
    document.add_heading(TITLE, level=1)
    document.add_paragraph(text or phrase("docx"))
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "cell-left"
    table.rows[0].cells[1].text = "cell-right"
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def xlsx_bytes() -> bytes:
    import openpyxl

    workbook = openpyxl.Workbook()
    workbook.properties.title = TITLE
    workbook.properties.creator = AUTHOR
    sheet = workbook.active
    sheet.title = "Revenue"
    sheet.append(["region", "amount"])
    sheet.append([phrase("xlsx"), 42])
    workbook.create_sheet("Costs").append(["rent", 7])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def pptx_bytes() -> bytes:
    import pptx

    presentation = pptx.Presentation()
    presentation.core_properties.title = TITLE
    presentation.core_properties.author = AUTHOR
    for number in (1, 2):
        slide = presentation.slides.add_slide(presentation.slide_layouts[1])
        slide.shapes.title.text = f"Slide title {number}"
        slide.placeholders[1].text = phrase("pptx") if number == 1 else "second slide body"
    out = io.BytesIO()
    presentation.save(out)
    return out.getvalue()


ODF_MANIFEST = """<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">
 <manifest:file-entry manifest:full-path="/" manifest:media-type="{mime}"/>
 <manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>
 <manifest:file-entry manifest:full-path="meta.xml" manifest:media-type="text/xml"/>
</manifest:manifest>"""
ODF_META = """<?xml version="1.0" encoding="UTF-8"?>
<office:document-meta xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0" xmlns:dc="http://purl.org/dc/elements/1.1/"
 office:version="1.2"><office:meta><dc:title>{title}</dc:title><meta:initial-creator>{author}</meta:initial-creator>
 <meta:creation-date>2024-01-02T03:04:05</meta:creation-date></office:meta></office:document-meta>"""
ODF_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"'
)


def _odf(mime: str, body: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), mime, compress_type=zipfile.ZIP_STORED)
        content = f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ODF_NS} office:version="1.2">'
        content += f"<office:body>{body}</office:body></office:document-content>"
        archive.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr("meta.xml", ODF_META.format(title=TITLE, author=AUTHOR), compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr("META-INF/manifest.xml", ODF_MANIFEST.format(mime=mime), compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def odt_bytes() -> bytes:
    words = phrase("odt").split(" ", 1)
    body = f"<office:text><text:h>{TITLE}</text:h><text:p>{words[0]}<text:s/>{words[1]}</text:p></office:text>"
    return _odf("application/vnd.oasis.opendocument.text", body)


def ods_bytes() -> bytes:
    body = (
        '<office:spreadsheet><table:table table:name="Inventory"><table:table-row>'
        f"<table:table-cell><text:p>{phrase('ods')}</text:p></table:table-cell>"
        "<table:table-cell><text:p>17</text:p></table:table-cell></table:table-row></table:table>"
        '<table:table table:name="Archive"/></office:spreadsheet>'
    )
    return _odf("application/vnd.oasis.opendocument.spreadsheet", body)


def rtf_bytes() -> bytes:
    return (
        "{\\rtf1\\ansi\\deff0{\\fonttbl{\\f0 Times;}}"
        f"{{\\info{{\\title {TITLE}}}{{\\author {AUTHOR}}}{{\\creatim\\yr2024\\mo1\\dy2\\hr3\\min4}}}}"
        f"\\f0\\fs24 {phrase('rtf')}\\par Caf\\'e9 au lait\\par}}"
    ).encode("ascii")


def html_bytes() -> bytes:
    return (
        f"<!doctype html><html><head><title>{TITLE}</title><meta name='author' content='{AUTHOR}'>"
        "<style>body {color: red}</style><script>var hidden = 'scriptsecret';</script></head>"
        f"<body><h1>Heading</h1><p>{phrase('html')}</p><p>caf&eacute; &amp; more</p></body></html>"
    ).encode()


def xml_bytes() -> bytes:
    return f'<?xml version="1.0"?><catalog><item id="1">{phrase("xml")}</item><item>second</item></catalog>'.encode()


def json_bytes() -> bytes:
    return json.dumps({"title": TITLE, "items": [{"note": phrase("json")}, {"count": 3}]}).encode()


def csv_bytes() -> bytes:
    return f"name,value\n{phrase('csv')},1\nbeta,2\n".encode()


def tsv_bytes() -> bytes:
    return f"name\tvalue\n{phrase('tsv')}\t1\ngamma\t2\n".encode()


def markdown_bytes() -> bytes:
    return f"# {TITLE}\n\nSome *emphasis* and {phrase('markdown')} with a [link](https://example.org).\n".encode()


def text_bytes(encoding: str = "utf-8") -> bytes:
    return f"{phrase('txt')}\nCrème brûlée, naïve façade, Übergröße — déjà vu.\n".encode(encoding)


def eml_bytes() -> bytes:
    message = EmailMessage()
    message["From"] = f"{AUTHOR} <ada@example.org>"
    message["To"] = "Charles Babbage <charles@example.org>"
    message["Subject"] = TITLE
    message["Date"] = "Tue, 02 Jan 2024 03:04:05 +0000"
    message.set_content(f"Hello Charles,\n{phrase('eml')}\n")
    message.add_attachment(b"attached bytes", maintype="application", subtype="octet-stream", filename="data.bin")
    return bytes(message)


def image_with_text(text: str, *, fmt: str = "PNG", size=(900, 160)) -> bytes:
    """Black text on white, large enough for Tesseract to read."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", size, "white")
    font = ImageFont.load_default(size=48)
    ImageDraw.Draw(image).text((20, 50), text, fill="black", font=font)
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


OCR_TEXT = "HELLO TESSERACT 2024"


def png_bytes() -> bytes:
    return image_with_text(OCR_TEXT, fmt="PNG")


def jpeg_bytes() -> bytes:
    return image_with_text(OCR_TEXT, fmt="JPEG")


def tiff_bytes() -> bytes:
    return image_with_text(OCR_TEXT, fmt="TIFF")


def scanned_pdf_bytes() -> bytes:
    """A PDF with no text layer: an image of text, saved by Pillow."""
    from PIL import Image

    image = Image.open(io.BytesIO(image_with_text(OCR_TEXT)))
    out = io.BytesIO()
    image.save(out, format="PDF", resolution=100)
    return out.getvalue()


# name, bytes factory, expected detected MIME type, phrase kind (None: OCR text), expected metadata subset
FORMATS = [
    ("report.pdf", pdf_bytes, "application/pdf", "pdf", {"title": TITLE, "author": AUTHOR}),
    (
        "letter.docx",
        docx_bytes,
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "docx",
        {"title": TITLE, "author": AUTHOR},
    ),
    (
        "sheet.xlsx",
        xlsx_bytes,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "xlsx",
        {"title": TITLE, "author": AUTHOR, "sheet_names": ["Revenue", "Costs"]},
    ),
    (
        "deck.pptx",
        pptx_bytes,
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "pptx",
        {"title": TITLE, "author": AUTHOR, "slide_count": 2},
    ),
    ("notes.odt", odt_bytes, "application/vnd.oasis.opendocument.text", "odt", {"title": TITLE, "author": AUTHOR}),
    (
        "stock.ods",
        ods_bytes,
        "application/vnd.oasis.opendocument.spreadsheet",
        "ods",
        {"title": TITLE, "sheet_names": ["Inventory", "Archive"]},
    ),
    ("memo.rtf", rtf_bytes, "text/rtf", "rtf", {"title": TITLE, "author": AUTHOR}),
    ("page.html", html_bytes, "text/html", "html", {"title": TITLE, "author": AUTHOR}),
    ("feed.xml", xml_bytes, "text/xml", "xml", {"root_element": "catalog"}),
    ("data.json", json_bytes, "application/json", "json", {"title": TITLE, "json_type": "dict"}),
    ("table.csv", csv_bytes, "text/csv", "csv", {"rows": 3, "columns": 2, "header": ["name", "value"]}),
    ("table.tsv", tsv_bytes, "text/tab-separated-values", "tsv", {"rows": 3, "columns": 2}),
    ("readme.md", markdown_bytes, "text/markdown", "markdown", {"title": TITLE, "links": 1}),
    ("plain.txt", text_bytes, "text/plain", "txt", {"encoding": "utf-8"}),
    ("mail.eml", eml_bytes, "message/rfc822", "eml", {"title": TITLE, "attachment_count": 1}),
]
IMAGE_FORMATS = [
    ("scan.png", png_bytes, "image/png", {"width": 900, "height": 160}),
    ("scan.jpg", jpeg_bytes, "image/jpeg", {"width": 900, "height": 160}),
    ("scan.tiff", tiff_bytes, "image/tiff", {"width": 900, "height": 160}),
]


# --- Hostile and broken files ---------------------------------------------------------------------


def docx_zip_bomb(expanded_bytes: int = 64 * 1024 * 1024) -> bytes:
    """A DOCX whose document.xml is tens of MB of one repeated byte: ratio ≫ 100."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            block = b" " * (1024 * 1024)
            for _ in range(expanded_bytes // len(block)):
                member.write(block)
    return out.getvalue()


def corrupt_pdf() -> bytes:
    """A PDF cut off after its first object: no xref, no trailer, no pages."""
    return pdf_bytes()[:120]


def image_over_pixel_limit(side: int) -> bytes:
    """A 1-bit PNG of side × side pixels (small on disk)."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("1", (side, side), 1).save(out, format="PNG")
    return out.getvalue()


def image_needing_memory(side: int = 8000) -> bytes:
    """An RGBA PNG under the pixel limit whose decoding needs side² × 4 bytes (256 MB at 8000)."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGBA", (side, side), (255, 255, 255, 255)).save(out, format="PNG", compress_level=1)
    return out.getvalue()
