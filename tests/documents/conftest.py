import shutil

import pytest
from django.conf import settings as django_settings

from documents.isolation import default_pool

try:
    import pytesseract

    pytesseract.get_tesseract_version()
    HAS_TESSERACT = True
except Exception:
    HAS_TESSERACT = False

needs_tesseract = pytest.mark.skipif(
    not HAS_TESSERACT, reason="!!! Tesseract is not installed: run `make doctools` to test OCR !!!"
)


def use_document_storage(settings, tmp_path):
    """Stored originals and watched folders under the test's own tmp_path (``settings``: pytest-django's)."""
    storage = tmp_path / "stored"
    settings.DOCUMENTS = {**django_settings.DOCUMENTS, "STORAGE_DIR": storage, "WATCH_DIRS": [str(tmp_path / "watch")]}
    return storage


def change_document_settings(settings, **values):
    settings.DOCUMENTS = {**settings.DOCUMENTS, **values}


@pytest.fixture
def document_storage(settings, tmp_path):
    storage = use_document_storage(settings, tmp_path)
    yield storage
    shutil.rmtree(storage, ignore_errors=True)


@pytest.fixture
def document_settings(settings, document_storage):
    """Change one of settings.DOCUMENTS for a test: ``document_settings(MAX_UPLOAD_BYTES=10)``."""
    return lambda **values: change_document_settings(settings, **values)


@pytest.fixture(scope="session", autouse=True)
def close_extractor_children():
    yield
    default_pool().close()
