import pytest

from queue_gate import create_gate_app
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
from tests.support.faults import database_proxy  # noqa: F401  (a fixture)


@pytest.fixture(autouse=True)
def _clean(clean_state):  # noqa: F811
    yield


@pytest.fixture(scope="module")
def gate_app(app):  # noqa: F811  (the app fixture, imported above)
    """The waiting room's gate, on the same settings as ``app``; one per test module."""
    return create_gate_app(app.extensions["seatline.settings"])


@pytest.fixture
def gate(gate_app):
    return gate_app.test_client()
