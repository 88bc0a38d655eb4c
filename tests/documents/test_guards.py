"""ZIP bomb checks on the archive directory, before any parser runs."""

import zipfile

import pytest

from documents.extractors.base import ExtractionError, Rejected
from documents.guards import check_zip_archive
from tests.documents import samples

LIMITS = {"max_uncompressed": 512 * 1024 * 1024, "max_ratio": 100, "max_members": 10_000}


def test_an_ordinary_docx_passes(tmp_path):
    path = tmp_path / "ok.docx"
    path.write_bytes(samples.docx_bytes())
    assert check_zip_archive(str(path), **LIMITS)["members"] > 3


def test_a_member_expanding_past_the_ratio_is_a_bomb(tmp_path):
    path = tmp_path / "bomb.docx"
    path.write_bytes(samples.docx_zip_bomb(8 * 1024 * 1024))
    with pytest.raises(Rejected, match="word/document.xml expands"):
        check_zip_archive(str(path), **LIMITS)


def test_the_declared_total_is_capped(tmp_path):
    path = tmp_path / "big.docx"
    path.write_bytes(samples.docx_bytes())
    with pytest.raises(Rejected, match="expands to"):
        check_zip_archive(str(path), **{**LIMITS, "max_uncompressed": 1000})


def test_too_many_members(tmp_path):
    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for i in range(20):
            archive.writestr(f"m{i}", "x")
    with pytest.raises(Rejected, match="20 members"):
        check_zip_archive(str(path), **{**LIMITS, "max_members": 10})


def test_a_truncated_archive_fails(tmp_path):
    path = tmp_path / "cut.docx"
    path.write_bytes(samples.docx_bytes()[:500])
    with pytest.raises(ExtractionError, match="corrupt or truncated"):
        check_zip_archive(str(path), **LIMITS)
