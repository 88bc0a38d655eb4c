from tests.integration.conftest import start_worker  # noqa: F401
