"""`e911-router status` compares each worker's location view with the store as it is when the
command runs: the router's endpoint polls the store every 5 s while the workers' views poll
every 0.5 s, so its figure alone showed the store behind the workers (change_seq 19 against
23) after a burst of writes."""

from __future__ import annotations

import json

from router.store.store import open_store
from tests.observe.calls.supervised import Router
from tests.support.processes import wait_until

ACCOUNT = "acct_default"


def test_status_shows_the_store_change_the_workers_have_just_applied(router: Router) -> None:
    """Four writes; once both workers' views report the store's change_seq, `status` shows
    that same change_seq for the store and no worker behind it, on the screen and in --json."""
    store = open_store(router.env["E911_DATABASE_URL"])
    try:
        for n in range(4):
            store.set_contacts(ACCOUNT, [f"ops{n}@example.com"])
        seq = store.change_seq()
    finally:
        store.close()
    wait_until(lambda: sorted(router.series("e911_location_view_version").values())
               == [seq, seq], 15, "both workers' views at the store's change_seq")

    shown = router.e911_router("status", "--json")
    assert shown.returncode == 0, shown.stderr
    views = json.loads(shown.stdout)["status"]["location_views"]
    assert views["store_change_seq"] == seq
    assert sorted(w["change_seq"] for w in views["workers"]) == [seq, seq]
    screen = router.e911_router("status").stdout
    assert f"LOCATION VIEWS (store change_seq {seq})" in screen.splitlines()
    assert "behind" not in screen
