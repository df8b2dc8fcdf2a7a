import pytest

from tests.support.db import (  # noqa: F401  (fixtures)
    Builder,
    _jobs_use_the_test_app,
    app,
    clean_state,
    client,
    gateway,
    mail,
    make,
    rds,
    simulator_process,
    smtp_sink,
    web_server,
)


@pytest.fixture(autouse=True)
def _clean(clean_state):  # noqa: F811
    yield
