"""PostgreSQL restarted mid-sale (`pg_ctl restart -m fast`: every session terminated). The app's
pools must recover by themselves: the same gunicorn workers keep serving, nothing is restarted."""

from __future__ import annotations

import pytest
import requests

from app.config import Settings
from devstack.processes import children_of
from tests.chaos.scenario import now

pytestmark = pytest.mark.chaos


def test_postgres_restarted_mid_sale(scenario):
    sc = scenario
    sc.start(hold_ttl=8, sweeper_interval=2)
    show = sc.make.show(rows=10, per_row=15)
    sale = sc.sale(show, [sc.make.fan() for _ in range(40)], seconds=14)

    sale.wait_until(4)
    web_workers = children_of(sc.stack.pid("web"))
    background = {name: sc.stack.pid(name) for name in (*sc.stack.workers(), "scheduler")}
    assert len(web_workers) == 2
    restarting = now()
    took = sc.pg.restart()
    back = now()
    sc.fault(
        f"pg_ctl restart -m fast {restarting - sale.started_at:.1f} s into the sale ({took:.1f} s)", restarting, back
    )

    # Straight after the restart the web process answers from the database again.
    ready = requests.get(f"{sc.web}/readyz", timeout=10)
    assert ready.status_code == 200, ready.text

    sc.finish(
        sale,
        since=back,
        title="PostgreSQL restarted (pg_ctl restart -m fast) mid-sale",
        notes=[f"gunicorn workers before and after: {sorted(web_workers)}"],
    )

    # Once the server is back, a pool hands out only live connections; a process whose booking
    # breaker opened during the restart lets a request through again after its reset time
    # (app/circuit.py). From then on no request fails any more.
    settled = back + Settings().breaker_reset_seconds + 0.5
    after = [(endpoint, status) for started, _, endpoint, status in sale.tally.calls if started >= settled]
    assert ("hold", "201") in after and (("confirm", "201") in after or ("confirm", "200") in after), (
        "no hold or booking succeeded after the restart"
    )
    assert not [a for a in after if a[1] in ("503", "transport")], [a for a in after if a[1] in ("503", "transport")]
    assert children_of(sc.stack.pid("web")) == web_workers, "gunicorn replaced workers"
    assert {name: sc.stack.pid(name) for name in background} == background
    assert not sc.stack.dead()
