"""Scale-out: two router instances on distinct loopback addresses share one PostgreSQL store.

Host A (127.0.0.2) runs the front (Kamailio) and one worker; host B (127.0.0.3) runs one worker
and no front, trusting only A's front (E911_KAMAILIO_REMOTE_WORKERS on A lists B's worker). An
address bound through B's HTTP API locates a 911 that either host's worker handles.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.front.conftest import requires_kamailio
from tests.front.harness import running_router
from tests.pidf_check import InviteExpectation, assert_emergency_invite, requires_pidf_xsd
from tests.scenarios.harness import REPO, run_uac, start_uas, wait_until

pytestmark = [pytest.mark.scenario, pytest.mark.postgres, requires_kamailio]

ADMIN_TOKEN = "scaleout-admin-token-0123456789"
USER = "4004"
CALLBACK = "+14065554004"
HOST_A, HOST_B = "127.0.0.2", "127.0.0.3"


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


@requires_pidf_xsd
@pytest.mark.xfail(strict=False, reason=(
    "known race (issue 9, open): the test places the 911s once host A's API sees the binding,"
    " but the workers' in-memory location views poll the store every 0.5 s and can lag on a"
    " loaded machine, so a call may still go unlocated; needs a view-caught-up signal"))
def test_address_bound_through_one_host_locates_911s_handled_by_both(
    pg_schema_url: str, tmp_path: Path
) -> None:
    """B's API binds user 4004 to 127.0.0.1; two 911s through A's front (round robin: one per
    host's worker) both reach the PSAP with that address in a valid PIDF-LO."""
    _seed(pg_schema_url)
    psap = start_uas("uas-psap-answer", tmp_path)
    common = {"E911_DATABASE_URL": pg_schema_url, "E911_TRUNK_PSAP": psap.uri,
              "E911_TRUNK_SORTING_CENTER": psap.uri, "E911_ADMIN_TOKENS": ADMIN_TOKEN}
    try:
        with running_router({**common, "E911_TRUSTED_PEERS": f"{HOST_A}/32",
                             "E911_PBX_PEERS": f"{HOST_A}/32"}, tmp_path, workers=1,
                            host=HOST_B, front=False) as host_b, \
                running_router({**common, "E911_TRUSTED_PEERS": "127.0.0.1/32",
                                "E911_KAMAILIO_REMOTE_WORKERS": f"sip:{HOST_B}:{host_b.sip_port}"},
                               tmp_path, workers=1, host=HOST_A) as host_a:
            _bind_through_api(host_b.api_url)
            wait_until(lambda: _api_up(host_a.api_url), 30, "host A's API")
            with httpx.Client(base_url=host_a.api_url, timeout=20,
                              headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as api_a:
                wait_until(lambda: api_a.get(f"/v1/users/{USER}/location",
                                             params={"ip": "127.0.0.1"}).json()["located"],
                           20, "host A's API seeing the binding made through host B")
            csv = tmp_path / "caller-4004.csv"
            csv.write_text(f"SEQUENTIAL\n{USER}\n")
            for _ in range(2):
                # -rsa: SIPp sends to host A's front (its target argument is 127.0.0.1).
                result = run_uac("uac-911-expect-200", host_a.sip_port, tmp_path,
                                 service="911", caller_csv=str(csv),
                                 extra=("-rsa", f"{HOST_A}:{host_a.sip_port}"))
                assert result.ok, result.errors
            invites = psap.wait_invites(2)
            for invite in invites:
                assert_emergency_invite(invite, InviteExpectation(
                    callback_number=CALLBACK, has_location=True))
            ended_a = host_a.wait_event("e911.call.ended")
            ended_b = host_b.wait_event("e911.call.ended")
            assert (ended_a["location"], ended_b["location"]) == ("binding", "binding")
    finally:
        psap.stop()

