"""A mass event through the front (issue 10): N distinct located callers behind a PBX dial 911
within a window and hold; every call must reach the PSAP with a valid PIDF-LO naming that
caller's own address. Used by tests/front/test_front_path.py (small) and
scripts/bench_mass_event.py (500 callers, 60 s, 120 s hold).

Each caller k is user 6000+k with callback +1 406 556 kkkk and a saved address (house number
1000+k) bound to its own device address 10.77.x.y; the SIPp caller (sipp-scenarios/load/
uac-mass-911-hold.xml) sends from a PBX peer (127.0.0.2) that names the device in
X-E911-Device-IP, so the worker locates each caller on its own network.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import time
from dataclasses import dataclass, replace
from pathlib import Path

from router.location.model import DEFAULT_ACCOUNT_ID, Callback, CallbackPreference, ValidatedAddress
from router.store.store import open_store
from tests.support.paths import SCENARIOS
from tests.support.pidf_check import InviteExpectation, assert_emergency_invite
from tests.support.ports import free_port
from tests.support.router_run import RouterRun, running_router
from tests.support.seeded_store import OFFICE
from tests.support.sipp import SIPP, start_uas

PBX_IP = "127.0.0.2"
ACCOUNT_CALLBACK = "+14065550100"


@dataclass(frozen=True, slots=True)
class MassCaller:
    user: str
    device_ip: str
    callback: str
    house_number: str


@dataclass(frozen=True, slots=True)
class MassResult:
    callers: int
    window_seconds: float
    hold_seconds: float
    workers: int
    sipp_exit: int
    successful: int
    failed: int
    psap_invites: int
    valid_pidf: int
    """INVITEs at the PSAP that pass assert_emergency_invite with the caller's own address."""
    problems: tuple[str, ...]
    sorting_center_invites: int
    via_front: int
    via_bridge: int
    malformed: int
    setup_ms: tuple[float, ...]
    kamailio_cpu_seconds: float
    elapsed_seconds: float

    def percentile(self, q: float) -> float:
        if not self.setup_ms:
            return 0.0
        ordered = sorted(self.setup_ms)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    @property
    def p50(self) -> float:
        return statistics.median(self.setup_ms) if self.setup_ms else 0.0


def mass_callers(count: int) -> list[MassCaller]:
    return [MassCaller(user=str(6000 + k), device_ip=f"10.77.{k // 200}.{k % 200 + 1}",
                       callback=f"+1406556{k:04d}", house_number=str(1000 + k))
            for k in range(count)]


def seed_mass_store(url: str, callers: list[MassCaller]) -> None:
    """The account (enabled, callback) and one user per caller, its address bound to its IP."""
    store = open_store(url)
    try:
        store.set_contacts(DEFAULT_ACCOUNT_ID, ["ops@example.com"])
        store.update_account(DEFAULT_ACCOUNT_ID,
                             default_address=ValidatedAddress(OFFICE, msag_id="MSAG-TEST-1",
                                                              esn="101"),
                             callback=Callback("Acme Dispatch", ACCOUNT_CALLBACK, "en"))
        store.update_account(DEFAULT_ACCOUNT_ID, enabled=True)
        for caller in callers:
            store.upsert_user(DEFAULT_ACCOUNT_ID, caller.user, display_name=f"Caller {caller.user}",
                              callback_number=caller.callback, language="en",
                              callback_preference=CallbackPreference.OWN)
            address = ValidatedAddress(replace(OFFICE, house_number=caller.house_number),
                                       msag_id="MSAG-TEST-1", esn="101")
            saved = store.add_address(DEFAULT_ACCOUNT_ID, caller.user, address, label="desk")
            store.bind(DEFAULT_ACCOUNT_ID, caller.user, saved.id, caller.device_ip)
    finally:
        store.close()


def write_callers_csv(path: Path, callers: list[MassCaller]) -> None:
    """SIPp injection file: field0 = user, field1 = device IP."""
    path.write_text("SEQUENTIAL\n" + "".join(f"{c.user};{c.device_ip}\n" for c in callers))


def run_mass_event(workdir: Path, *, count: int, window_seconds: float, hold_seconds: float,
                   workers: int = 2, path: str = "auto", kamailio_children: int = 4
                   ) -> MassResult:
    """Bounded: `count` calls, at most window + hold + 90 s; loopback only.

    With several Kamailio receivers a trunk's 180 and 200, sent back to back, can reach the
    caller in the opposite order (each receiver relays one); SIPp counts that call failed
    although a UA ignores the late 180 (RFC 3261 s13.2.2). Tests pass kamailio_children=1."""
    callers = mass_callers(count)
    url = f"sqlite:///{workdir / 'mass.db'}"
    seed_mass_store(url, callers)
    csv = workdir / "callers-mass.csv"
    write_callers_csv(csv, callers)
    psap = start_uas("uas-psap-answer", workdir)
    sorting = start_uas("uas-psap-answer", workdir)
    env = {"E911_DATABASE_URL": url, "E911_TRUNK_PSAP": psap.uri,
           "E911_TRUNK_SORTING_CENTER": sorting.uri, "E911_PBX_PEERS": f"{PBX_IP}/32",
           "E911_EMERGENCY_PATH": path, "E911_TRUNK_TIMEOUT_SECONDS": "4",
           "E911_KAMAILIO_CHILDREN": str(kamailio_children)}
    try:
        with running_router(env, workdir, workers=workers) as router:
            started = time.monotonic()
            proc = _run_sipp(router, workdir, csv, count, window_seconds, hold_seconds)
            elapsed = time.monotonic() - started
            cpu = _group_cpu_seconds(router.pid_of("kamailio"))
            successful, failed = _sipp_counts(workdir)
            invites = psap.invites()
            valid, problems = _check_invites(invites, callers)
            return MassResult(
                callers=count, window_seconds=window_seconds, hold_seconds=hold_seconds,
                workers=workers, sipp_exit=proc.returncode, successful=successful,
                failed=failed, psap_invites=len(invites), valid_pidf=valid,
                problems=tuple(problems[:5]), sorting_center_invites=len(sorting.invites()),
                via_front=_count_logged(router, "e911.emergency.front"),
                via_bridge=_count_logged(router, "e911.call.ended", "bridge"),
                malformed=sum("e911.front.redirect_malformed" in line for line in router.lines),
                setup_ms=_setup_times(workdir), kamailio_cpu_seconds=cpu,
                elapsed_seconds=elapsed,
            )
    finally:
        psap.stop()
        sorting.stop()


def _run_sipp(router: RouterRun, workdir: Path, csv: Path, count: int, window_seconds: float,
              hold_seconds: float) -> subprocess.CompletedProcess[str]:
    limit = int(window_seconds + hold_seconds + 60)
    args = [SIPP, f"127.0.0.1:{router.sip_port}",
            "-sf", str(SCENARIOS / "load" / "uac-mass-911-hold.xml"), "-inf", str(csv),
            "-s", "911", "-i", PBX_IP, "-p", str(free_port(PBX_IP)), "-mp", str(free_port()),
            "-m", str(count), "-l", str(count + 10),
            "-r", str(count), "-rp", str(int(window_seconds * 1000)),
            "-d", str(int(hold_seconds * 1000)), "-nostdin",
            "-timeout", f"{limit}s", "-timeout_error",
            "-trace_rtt", "-rtt_freq", "1", "-trace_stat", "-fd", "1",
            "-stf", str(workdir / "mass-stat.csv"),
            "-trace_err", "-error_file", str(workdir / "mass-uac.err")]
    return subprocess.run(args, cwd=workdir, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=limit + 30)


def _sipp_counts(workdir: Path) -> tuple[int, int]:
    """SuccessfulCall(C), FailedCall(C) from the last line of SIPp's statistics file."""
    lines = (workdir / "mass-stat.csv").read_text().splitlines()
    head = lines[0].split(";")
    last = lines[-1].split(";")
    return (int(last[head.index("SuccessfulCall(C)")]), int(last[head.index("FailedCall(C)")]))


def _setup_times(workdir: Path) -> tuple[float, ...]:
    """INVITE -> 200 per call (the rtd of uac-mass-911-hold), from SIPp's -trace_rtt file."""
    times: list[float] = []
    for path in workdir.glob("uac-mass-911-hold_*_rtt.csv"):
        for line in path.read_text().splitlines()[1:]:
            fields = line.split(";")
            if len(fields) >= 2:
                try:
                    times.append(float(fields[1]))
                except ValueError:
                    continue
    return tuple(times)


def _check_invites(invites: list[str], callers: list[MassCaller]) -> tuple[int, list[str]]:
    by_callback = {c.callback: c for c in callers}
    valid = 0
    problems: list[str] = []
    for invite in invites:
        match = re.search(r"<sip:(\+1\d{10})@", invite)
        caller = by_callback.get(match.group(1)) if match else None
        if caller is None:
            problems.append("an INVITE without a known caller's PAI")
            continue
        try:
            assert_emergency_invite(invite, InviteExpectation(
                callback_number=caller.callback, has_location=True,
                civic=replace(OFFICE, house_number=caller.house_number)))
        except AssertionError as exc:
            problems.append(str(exc).splitlines()[1].strip())
            continue
        if "X-E911-" in invite:
            problems.append("X-E911-* reached the PSAP")
            continue
        valid += 1
    return valid, problems


def _count_logged(router: RouterRun, name: str, path: str | None = None) -> int:
    """JSON events, also those a Kamailio log line ran into on the shared stderr."""
    count = sum(1 for e in router.events if e.get("event") == name
                and (path is None or e.get("path") == path))
    count += sum(1 for line in router.lines if f'"event": "{name}"' in line
                 and (path is None or f'"path": "{path}"' in line))
    return count


def _group_cpu_seconds(pgid: int) -> float:
    """User + system CPU of every live process in Kamailio's process group."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total / ticks
