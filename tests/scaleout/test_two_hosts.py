"""Scale-out: two router instances on distinct loopback addresses share one PostgreSQL store.

Host A (127.0.0.2) runs the front (Kamailio) and one worker; host B (127.0.0.3) runs one worker
and no front, trusting only A's front (E911_KAMAILIO_REMOTE_WORKERS on A lists B's worker). Each
host also runs its own API and notification sender. An address bound through B's HTTP API
locates a 911 that either host's worker handles, once every worker's location view says it has
applied the store change the binding made; the two senders e-mail each contact exactly once.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from router.location.model import DEFAULT_ACCOUNT_ID
from router.notify.model import DeliveryState
from router.notify.outbox import Outbox
from router.store.store import open_store
from tests.support.paths import REPO
from tests.support.pidf_check import InviteExpectation, assert_emergency_invite
from tests.support.processes import wait_until
from tests.support.router_run import RouterRun, requires_kamailio, running_router
from tests.support.sipp import Uas, run_uac, start_uas
from tests.support.smtp_server import SmtpServer

pytestmark = [pytest.mark.scenario, pytest.mark.postgres, requires_kamailio]

ADMIN_TOKEN = "scaleout-admin-token-0123456789"
USER = "4004"
CALLBACK = "+14065554004"
HOST_A, HOST_B = "127.0.0.2", "127.0.0.3"
CONTACTS = ("ops@example.com", "security@example.com")


def _seed(url: str) -> None:
    """The MSAG sample and the default account (what `demo seed` gives a new store)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("E911_")}
    env.update({"E911_DATABASE_URL": url, "E911_LOG_FORMAT": "json"})
    subprocess.run([sys.executable, "-m", "router", "demo", "seed"], cwd=REPO, env=env,
                   check=True, capture_output=True, timeout=120)


def _api_up(api: str) -> bool:
    try:
        return httpx.get(f"{api}/openapi.json", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _bind_through_api(api: str) -> None:
    wait_until(lambda: _api_up(api), 30, f"the API at {api}")
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with httpx.Client(base_url=api, headers=headers, timeout=20) as client:
        user = client.put(f"/v1/users/{USER}", json={
            "display_name": "Scale Out", "callback_number": CALLBACK, "language": "en",
            "callback_preference": "own"})
        assert user.status_code in (200, 201), user.text
        saved = client.post(f"/v1/users/{USER}/emergency-addresses", json={
            "country": "US", "house_number": "101", "street": "E Main St",
            "city": "White Sulphur Springs", "state": "MT", "postal_code": "59645",
            "label": "desk"})
        assert saved.status_code == 201, saved.text
        bound = client.put(
            f"/v1/users/{USER}/emergency-addresses/{saved.json()['id']}/registered-ip",
            json={"ip": "127.0.0.1"})
        assert bound.status_code in (200, 201), bound.text


def _store_change_seq(url: str) -> int:
    """The store's change_seq now: every write the API has answered is at or below it."""
    store = open_store(url, migrate=False)
    try:
        return store.change_seq()
    finally:
        store.close()


@contextlib.contextmanager
def _two_hosts(url: str, tmp_path: Path, psap: Uas, smtp_url: str | None = None
               ) -> Iterator[tuple[RouterRun, RouterRun]]:
    """Host B (worker only) then host A (front + worker), both on the store at `url`."""
    common = {"E911_DATABASE_URL": url, "E911_TRUNK_PSAP": psap.uri,
              "E911_TRUNK_SORTING_CENTER": psap.uri, "E911_ADMIN_TOKENS": ADMIN_TOKEN}
    if smtp_url is not None:
        common["E911_SMTP_URL"] = smtp_url
    with running_router({**common, "E911_TRUSTED_PEERS": f"{HOST_A}/32",
                         "E911_PBX_PEERS": f"{HOST_A}/32"}, tmp_path, workers=1,
                        host=HOST_B, front=False) as host_b, \
            running_router({**common, "E911_TRUSTED_PEERS": "127.0.0.1/32",
                            "E911_KAMAILIO_REMOTE_WORKERS": f"sip:{HOST_B}:{host_b.sip_port}"},
                           tmp_path, workers=1, host=HOST_A) as host_a:
        yield host_a, host_b


def _call_911(host_a: RouterRun, tmp_path: Path) -> None:
    csv = tmp_path / f"caller-{USER}.csv"
    csv.write_text(f"SEQUENTIAL\n{USER}\n")
    # -rsa: SIPp sends to host A's front (its target argument is 127.0.0.1).
    result = run_uac("uac-911-expect-200", host_a.sip_port, tmp_path, service="911",
                     caller_csv=str(csv), extra=("-rsa", f"{HOST_A}:{host_a.sip_port}"))
    assert result.ok, result.errors


def test_address_bound_through_one_host_locates_911s_handled_by_both(
    pg_schema_url: str, tmp_path: Path
) -> None:
    """B's API binds user 4004 to 127.0.0.1; once both workers' views have applied that
    change, two 911s through A's front (round robin: one per host's worker) both reach the
    PSAP with that address in a valid PIDF-LO."""
    _seed(pg_schema_url)
    psap = start_uas("uas-psap-answer", tmp_path)
    try:
        with _two_hosts(pg_schema_url, tmp_path, psap) as (host_a, host_b):
            _bind_through_api(host_b.api_url)
            seq = _store_change_seq(pg_schema_url)
            for host in (host_a, host_b):  # one worker each
                host.wait_views_at(seq, workers=1)
            for _ in range(2):
                _call_911(host_a, tmp_path)
            invites = psap.wait_invites(2)
            for invite in invites:
                assert_emergency_invite(invite, InviteExpectation(
                    callback_number=CALLBACK, has_location=True))
            ended_a = host_a.wait_event("e911.call.ended")
            ended_b = host_b.wait_event("e911.call.ended")
            assert (ended_a["location"], ended_b["location"]) == ("binding", "binding")
    finally:
        psap.stop()


def test_two_hosts_senders_email_each_contact_exactly_once(
    pg_schema_url: str, tmp_path: Path
) -> None:
    """Both hosts run a notification sender on the one outbox: each of two 911s (one per
    host's worker) gives exactly one e-mail per contact, each delivery claimed once."""
    _seed(pg_schema_url)
    store = open_store(pg_schema_url, migrate=False)
    store.set_contacts(DEFAULT_ACCOUNT_ID, list(CONTACTS))
    smtp = SmtpServer().start()
    psap = start_uas("uas-psap-answer", tmp_path)
    try:
        with _two_hosts(pg_schema_url, tmp_path, psap, smtp.url) as (host_a, host_b):
            for host in (host_a, host_b):
                host.wait_event("e911.notify.sender_started")
            _call_911(host_a, tmp_path)
            smtp.handler.wait_for(2, timeout=30)
            # The second call's deliveries are claimed after the first's (oldest first): a
            # second copy of the first call's would have been sent before them.
            _call_911(host_a, tmp_path)
            got = smtp.handler.wait_for(4, timeout=30)
            assert host_a.count("e911.notify.recorded") + host_b.count(
                "e911.notify.recorded") == 2
            refs = sorted({str(r.message["X-E911-Call-Ref"]) for r in got})
            outbox = Outbox(store)

            def all_sent() -> bool:
                calls = [outbox.get_call(ref) for ref in refs]
                return all(c is not None and all(d.state is DeliveryState.SENT
                                                 for d in c.deliveries) for c in calls)

            wait_until(all_sent, 15, "both calls' deliveries recorded as sent", interval=0.1)
            received = sorted((str(r.message["X-E911-Call-Ref"]), r.rcpt_tos) for r in got)
            assert len(smtp.handler.received) == 4
            assert received == sorted((ref, (contact,)) for ref in refs for contact in CONTACTS)
            for ref in refs:
                call = outbox.get_call(ref)
                assert call is not None
                assert [(d.recipient, d.attempts, d.possible_duplicate)
                        for d in call.deliveries] == [(c, 1, False) for c in CONTACTS]
    finally:
        psap.stop()
        smtp.stop()
        store.close()
