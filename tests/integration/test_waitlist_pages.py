"""The waiting list on the site: the sold-out show page's form, "My waiting lists", leaving."""

from __future__ import annotations

from tests.integration.test_site import signed_in, token_of
from tests.integration.test_waitlist import sold_out
from tests.support.db import fetch


def test_a_sold_out_show_offers_the_waiting_list_and_my_waiting_lists_shows_the_place(app, client, make):
    show, _, _ = sold_out(make, client)
    anonymous = client.get(f"/shows/{show.show_id}").get_data(as_text=True)
    assert "Sold out" in anonymous and "Sign in to join the waiting list" in anonymous
    fan = signed_in(app.test_client(), "waiter@example.com")
    page = fan.get(f"/shows/{show.show_id}")
    html = page.get_data(as_text=True)
    assert 'data-testid="waitlist-form"' in html and 'name="tier"' in html
    # With htmx: the form is replaced by the fan's place.
    joined = fan.post(
        f"/shows/{show.show_id}/waitlist",
        data={"csrf_token": token_of(page), "quantity": "2", "tier": "gold"},
        headers={"HX-Request": "true"},
    )
    assert joined.status_code == 200 and "number 1" in joined.get_data(as_text=True)
    # Without: to "My waiting lists", where the place shows (the same entry: joining again changes nothing).
    again = fan.post(f"/shows/{show.show_id}/waitlist", data={"csrf_token": token_of(page), "quantity": "1"})
    assert again.status_code == 303 and again.headers["Location"].endswith("/waitlist")
    mine = fan.get("/waitlist").get_data(as_text=True)
    assert "number 1 in line" in mine and "Leave this waiting list" in mine
    assert fetch(app, "SELECT count(*) AS n FROM waitlist_entries")[0].n == 1
    [entry] = fetch(app, "SELECT id FROM waitlist_entries")
    left = fan.post(f"/waitlist/{entry.id}/leave", data={"csrf_token": token_of(page)}, headers={"HX-Request": "true"})
    assert left.status_code == 200 and "You left this waiting list" in left.get_data(as_text=True)
    assert fetch(app, "SELECT status FROM waitlist_entries")[0].status == "LEFT"


def test_bad_page_joins_change_nothing(app, client, make):
    show = make.show(rows=1, per_row=2)
    fan = signed_in(app.test_client(), "early@example.com")
    page = fan.get(f"/shows/{show.show_id}")
    assert 'data-testid="sold-out"' not in page.get_data(as_text=True)  # seats on sale: no form
    not_needed = fan.post(f"/shows/{show.show_id}/waitlist", data={"csrf_token": token_of(page), "quantity": "1"})
    assert not_needed.status_code == 409 and "on sale" in not_needed.get_data(as_text=True)
    bad = fan.post(f"/shows/{show.show_id}/waitlist", data={"csrf_token": token_of(page), "quantity": "nine"})
    assert bad.status_code == 400
    assert fan.post(f"/shows/{show.show_id}/waitlist", data={"quantity": "1"}).status_code == 400  # no CSRF token
    assert client.post(f"/waitlist/{'0' * 8}-0000-0000-0000-{'0' * 12}/leave").status_code in (400, 401)
    assert fetch(app, "SELECT count(*) AS n FROM waitlist_entries")[0].n == 0


def test_my_waiting_lists_says_a_line_closed_with_its_show(app, client, make):
    import workers.jobs

    show, _, _ = sold_out(make, client)
    fan = signed_in(app.test_client(), "closed-line@example.com")
    page = fan.get(f"/shows/{show.show_id}")
    assert (
        fan.post(f"/shows/{show.show_id}/waitlist", data={"csrf_token": token_of(page), "quantity": "1"}).status_code
        == 303
    )
    manager = make.fan(role="manager")
    assert client.post(f"/api/v1/manage/shows/{show.show_id}/cancel", headers=manager.headers).status_code in (200, 202)
    workers.jobs.sweep()
    mine = fan.get("/waitlist").get_data(as_text=True)
    assert "The show was cancelled, so this waiting list closed." in mine
    assert "Leave this waiting list" not in mine and "in line" not in mine
