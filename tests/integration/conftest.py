import pytest

from tests.support.db import Builder, app, client, clean_state, make, rds  # noqa: F401  (fixtures)


@pytest.fixture(autouse=True)
def _clean(clean_state):  # noqa: F811
    yield
