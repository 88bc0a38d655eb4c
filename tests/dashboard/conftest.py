import pytest
from django.test import Client

from tests.integration.conftest import start_worker  # noqa: F401


@pytest.fixture
def staff_browser(staff_user):
    client = Client()
    client.force_login(staff_user)
    return client


@pytest.fixture
def reader_browser(reader_user):
    client = Client()
    client.force_login(reader_user)
    return client
