"""Load runs on loopback: SIPp callers and trunks around a router (or a peer), bounded in rate,
count and time. Used by `scripts/load` and `scripts/bench_load.py`.

A run: seed a SQLite store with the callers of `sipp-scenarios/load/*.csv` (located users
5000-5999 bound to 127.0.0.1, unlocated users 6000-6099, and 7000-7099 unlocated with a
callback number of their own), start three SIPp trunks (PSAP, which
keeps every INVITE; sorting center; outbound), start the system under test, run one SIPp caller
per call class at its share of the rate, then read every caller's statistics and response
times, and check every INVITE the PSAP received (schema-valid PIDF-LO, callback number of a
located caller).

The router's `E911_SMTP_URL` points at an SMTP sink (aiosmtpd, in this process, on a free
loopback port) that accepts every message and counts it, so the notification sender works as in
production (mail server up); the summary compares the e-mails it accepted with the 911 calls
answered x the account's contacts. `--smtp down` points it at a port nothing listens on
instead (the sender backs off on the server: docs/notifications.md, "SMTP server outage").

The cold profile (`cold`, issue 19) is the mixed profile with no caller repeated within the
run: sipp-scenarios/load/cold_callers.py numbers the callers and writes the CSVs into the run
directory, `seed_cold_users` bulk-writes the users (tests/support/bulk_seed.py) before the
router starts, timed. `--rebind-storm` (`StormSpec`, `run_storm`) re-binds users through the
store while the calls flow and checks that no call placed after the change used the old
decision.

The compliance profile (`run_compliance`) places each row of `sipp-scenarios/load/compliance.csv`
once and checks every call against its own row: the caller's final answer, the trunk the
call reached (or none), a schema-valid PIDF-LO with the bound address for a located 911, none
for an unlocated one, and the callback number in P-Asserted-Identity. It lists the rows that
differ.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.ports import free_port, free_port_block, udp_port_taken  # noqa: E402
from tests.support.processes import stop_process, wait_until  # noqa: E402
from tests.support.sip_messages import logged_invites, parse_sip_message  # noqa: E402

LOAD = ROOT / "sipp-scenarios" / "load"
if str(LOAD) not in sys.path:
    sys.path.insert(0, str(LOAD))

import cold_callers  # noqa: E402  (sipp-scenarios/load/cold_callers.py: the cold CSVs)

SIPP = shutil.which("sipp") or "sipp"
PY = sys.executable

MAX_RATE = 3000.0
"""Calls a second: the hard ceiling of any run (loopback, shared machine)."""
MAX_SECONDS = 900.0
"""Longest run accepted."""
LOCATED_USERS = range(5000, 6000)
UNLOCATED_USERS = range(6000, 6100)
"""No address; they take the account's callback number (ACCOUNT_CALLBACK)."""
OWN_CALLBACK_UNLOCATED_USERS = range(7000, 7100)
"""No address either, but a callback number of their own (`callback_of`)."""
ACCOUNT_CALLBACK = "+14065550100"
CONTACTS = ("ops@example.com",)
"""The load account's emergency contacts: one e-mail each per 911 (Kari's Law)."""
NOTIFY_DRAIN_SECONDS = 60.0
"""After the callers end, how long a run waits for the sink to have every e-mail."""


def callback_of(user: int) -> str:
    """Each located load caller (and each of OWN_CALLBACK_UNLOCATED_USERS) has its own callback
    number (checked at the PSAP and the sorting center)."""
    return f"+1406556{user % 10000:04d}"


class LoadError(ValueError):
    """A run that would break a bound (rate, count, time, loopback only)."""


@dataclass(frozen=True, slots=True)
class CallClass:
    name: str
    scenario: str
    csv: str
    """A file of sipp-scenarios/load/, or an absolute path (the cold profile's, per run)."""
    share: float


MIXED_SHARES = {name: per_1000 / 1000 for name, per_1000 in cold_callers.SHARES}
"""Per 1,000 calls: 99 x 911 (located), 800 located ordinary, 101 unlocated ordinary (403)."""
COLD = "cold"
"""The mixed profile with no caller repeated in the run (`cold_classes`)."""

PROFILES: dict[str, tuple[CallClass, ...]] = {
    "mixed": (
        CallClass("emergency", "uac-call-expect-200-hold", "callers-911.csv",
                  MIXED_SHARES["emergency"]),
        CallClass("normal", "uac-call-expect-200-hold", "callers-normal.csv",
                  MIXED_SHARES["normal"]),
        CallClass("unlocated", "uac-unlocated-expect-403", "callers-unlocated.csv",
                  MIXED_SHARES["unlocated"]),
    ),
    "emergency": (CallClass("emergency", "uac-call-expect-200-hold", "callers-911.csv", 1.0),),
    "normal": (CallClass("normal", "uac-call-expect-200-hold", "callers-normal.csv", 1.0),),
    # A mass event: every call a 911 from a different caller, as fast as the rate says.
    "mass-event": (CallClass("emergency", "uac-call-expect-200-hold", "callers-911.csv", 1.0),),
}
"""Profiles: call classes and their shares of the rate."""

def peer_classes(classes: Sequence[CallClass]) -> tuple[CallClass, ...]:
    """The same traffic against a peer that knows no location: every call expected answered."""
    return tuple(CallClass(c.name, "uac-call-expect-200-hold", c.csv, c.share) for c in classes)


PEER_PROFILES: dict[str, tuple[CallClass, ...]] = {
    name: peer_classes(classes) for name, classes in PROFILES.items()
}


def cold_plan(rate: float, seconds: float) -> cold_callers.ColdPlan:
    """The cold run's users and CSV rows (sipp-scenarios/load/cold_callers.py)."""
    return cold_callers.ColdPlan.for_run(rate, seconds)


def cold_classes(plan: cold_callers.ColdPlan, workdir: Path) -> tuple[CallClass, ...]:
    """The mixed profile's classes reading the cold CSVs written into `workdir`."""
    paths = plan.write(workdir)
    return tuple(CallClass(c.name, c.scenario, str(paths[c.name]), c.share)
                 for c in PROFILES["mixed"])


@dataclass(frozen=True, slots=True)
class Seeding:
    """The users bulk-written before the router started (cold callers, storm users)."""

    located: int
    unlocated: int
    seconds: float

    def line(self) -> str:
        return (f"seeded {self.located:,} located users (each with its saved address and "
                f"binding) and {self.unlocated:,} unlocated in {self.seconds:.1f} s "
                f"(tests/support/bulk_seed.py)")


def seed_cold_users(url: str, plan: cold_callers.ColdPlan) -> Seeding:
    """Every cold caller of `plan` in the store: located users with their own callback
    number and the load office bound to 127.0.0.1; unlocated users with no address. Bulk
    (tests/support/bulk_seed.py), timed."""
    from router.store.store import open_store
    from tests.support.bulk_seed import BulkUser, bulk_add_users

    started = time.monotonic()
    with contextlib.redirect_stdout(sys.stderr):
        store = open_store(url)
    try:
        located = bulk_add_users(store, (
            BulkUser(str(u), cold_callers.cold_callback(u), "127.0.0.1")
            for u in plan.located_users()), load_office())
        unlocated = bulk_add_users(store, (BulkUser(str(u)) for u in plan.unlocated_users()),
                                   load_office())
    finally:
        store.close()
    return Seeding(located, unlocated, time.monotonic() - started)


def check_bounds(rate: float, seconds: float, host: str) -> None:
    if not 0 < rate <= MAX_RATE:
        raise LoadError(f"rate {rate}/s: must be above 0 and at most {MAX_RATE:g}")
    if not 0 < seconds <= MAX_SECONDS:
        raise LoadError(f"duration {seconds} s: must be above 0 and at most {MAX_SECONDS:g}")
    if not ipaddress.ip_address(host).is_loopback:
        raise LoadError(f"{host}: load runs are loopback only")


def wait_for(predicate: Callable[[], object], seconds: float, what: str) -> None:
    """`wait_until`, failing as a LoadError (the run's own error, which `main` reports)."""
    try:
        wait_until(lambda: bool(predicate()), seconds, what, interval=0.05)
    except AssertionError as exc:
        raise LoadError(str(exc)) from None


def sip_replies(port: int) -> bool:
    """Anything answers an OPTIONS on 127.0.0.1:`port` (sippy says 501: it is up)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.5)
        try:
            sock.connect(("127.0.0.1", port))
            local = sock.getsockname()[1]
            tag = os.urandom(6).hex()
            sock.send((f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
                       f"Via: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bK{tag}\r\n"
                       f"Max-Forwards: 70\r\nFrom: <sip:load@127.0.0.1>;tag={tag}\r\n"
                       f"To: <sip:127.0.0.1:{port}>\r\nCall-ID: {tag}@127.0.0.1\r\n"
                       f"CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").encode())
            return sock.recv(4096).startswith(b"SIP/2.0 ")
        except OSError:
            return False


# -- the store ---------------------------------------------------------------------------------


def seed_store(url: str) -> None:
    """Account enabled, located users 5000-5999 (office bound to 127.0.0.1), unlocated
    6000-6099. Idempotent enough for a fresh file."""
    from router.location.model import DEFAULT_ACCOUNT_ID, Callback, CallbackPreference
    from router.store.store import open_store

    office = load_office()
    # The store logs its migrations on stdout: keep stdout for the benchmark's markdown.
    with contextlib.redirect_stdout(sys.stderr):
        store = open_store(url)
    try:
        store.set_contacts(DEFAULT_ACCOUNT_ID, list(CONTACTS))
        store.update_account(DEFAULT_ACCOUNT_ID, default_address=office,
                             callback=Callback("Load Test", ACCOUNT_CALLBACK, "en"))
        store.update_account(DEFAULT_ACCOUNT_ID, enabled=True)
        for user in LOCATED_USERS:
            store.upsert_user(DEFAULT_ACCOUNT_ID, str(user), display_name=f"Caller {user}",
                              callback_number=callback_of(user), language="en",
                              callback_preference=CallbackPreference.OWN)
            saved = store.add_address(DEFAULT_ACCOUNT_ID, str(user), office, label="office")
            store.bind(DEFAULT_ACCOUNT_ID, str(user), saved.id, "127.0.0.1")
        for user in UNLOCATED_USERS:
            store.upsert_user(DEFAULT_ACCOUNT_ID, str(user), display_name=f"Caller {user}",
                              language="en")
        for user in OWN_CALLBACK_UNLOCATED_USERS:
            store.upsert_user(DEFAULT_ACCOUNT_ID, str(user), display_name=f"Caller {user}",
                              callback_number=callback_of(user), language="en",
                              callback_preference=CallbackPreference.OWN)
    finally:
        store.close()


def load_office() -> Any:
    """The address every located load caller is bound to (a `ValidatedAddress`)."""
    from router.location.civic import CivicAddress
    from router.location.model import ValidatedAddress

    return ValidatedAddress(CivicAddress(
        country="US", state="MT", city="WHITE SULPHUR SPRINGS", street_name="LARAMIE",
        house_number="105", prefix_directional="E", street_suffix="ST", postal_code="59645",
        county="MEAGHER", unit="STE 4"), msag_id="MSAG-LOAD-1", esn="101")


# -- SIPp trunks -------------------------------------------------------------------------------


@dataclass
class Trunk:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log_file: Path | None
    stat_file: Path = Path()

    @property
    def uri(self) -> str:
        return f"sip:127.0.0.1:{self.port}"

    def stop(self) -> None:
        stop_process(self.proc, 10)


def start_trunk(name: str, workdir: Path, *, keep_invites: bool) -> Trunk:
    port = free_port()
    log_file = workdir / f"trunk-{name}.log" if keep_invites else None
    args = [SIPP, "-sf", str(LOAD / "uas-trunk-answer.xml"), "-i", "127.0.0.1", "-p",
            str(port), "-mp", str(free_port()), "-nostdin", "-l", "100000",
            "-trace_stat", "-stf", str(workdir / f"trunk-{name}-stat.csv"), "-fd", "1"]
    if log_file is not None:
        args += ["-trace_logs", "-log_file", str(log_file)]
    proc = subprocess.Popen(args, cwd=workdir, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: udp_port_taken(port) or proc.poll() is not None, 10, f"trunk {name}")
    if proc.poll() is not None:
        raise LoadError(f"SIPp trunk {name} exited with {proc.returncode}")
    return Trunk(name, port, proc, log_file, workdir / f"trunk-{name}-stat.csv")


@dataclass
class Trunks:
    psap: Trunk
    sorting: Trunk
    outbound: Trunk

    def all(self) -> tuple[Trunk, ...]:
        return (self.psap, self.sorting, self.outbound)


@contextlib.contextmanager
def trunks(workdir: Path, *, keep_outbound: bool = False) -> Iterator[Trunks]:
    """The three trunks; the PSAP and the sorting center keep every INVITE, the outbound trunk
    only with `keep_outbound` (the compliance run: it costs disk at high rates)."""
    started: list[Trunk] = []
    try:
        for name, keep in (("psap", True), ("sorting", True), ("outbound", keep_outbound)):
            started.append(start_trunk(name, workdir, keep_invites=keep))
        yield Trunks(*started)
    finally:
        for trunk in started:
            trunk.stop()


# -- systems under test ------------------------------------------------------------------------


@dataclass
class System:
    """Something listening on 127.0.0.1:`port` that routes calls: the router or a peer."""

    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log_file: Path
    group: bool = True

    def pids(self) -> dict[str, list[int]]:
        """Process name -> pids to measure (the router: per worker, kamailio)."""
        return {self.name: _group_pids(self.proc.pid)}

    def stop(self, seconds: float = 30.0) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                if self.group:
                    os.killpg(self.proc.pid, signal.SIGTERM)
                else:
                    self.proc.terminate()
            try:
                self.proc.wait(seconds)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)


@dataclass
class Router(System):
    def events(self) -> list[dict[str, object]]:
        found = []
        for line in self.log_file.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                with contextlib.suppress(json.JSONDecodeError):
                    found.append(json.loads(line))
        return found

    def pids(self) -> dict[str, list[int]]:
        latest: dict[str, int] = {}
        for event in self.events():
            if event.get("event") == "e911.supervisor.started":
                latest[str(event["child"])] = int(str(event["pid"]))
        found = {name: [pid] for name, pid in latest.items() if name != "kamailio"}
        if "kamailio" in latest:
            found["kamailio"] = _group_pids(latest["kamailio"])
        found["supervisor"] = [self.proc.pid]
        return found


def _group_pids(pgid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid:
                pids.append(int(entry.name))
    return pids


def router_env(workdir: Path, trunks_: Trunks, *, workers: int, sip_port: int,
               extra: Mapping[str, str], smtp_url: str | None = None) -> dict[str, str]:
    """`smtp_url` None: a loopback port nothing listens on (the mail server down)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("E911_")}
    env.update({
        "E911_SIP_LISTEN": f"127.0.0.1:{sip_port}",
        "E911_WORKER_LISTEN": f"127.0.0.1:{free_port_block(workers)}",
        "E911_WORKERS": str(workers),
        "E911_DATABASE_URL": f"sqlite:///{workdir / 'e911.db'}",
        "E911_KAMAILIO_RUN_DIR": str(workdir / "kamailio"),
        "E911_TRUNK_PSAP": trunks_.psap.uri,
        "E911_TRUNK_SORTING_CENTER": trunks_.sorting.uri,
        "E911_TRUNK_OUTBOUND": trunks_.outbound.uri,
        "E911_API_LISTEN": f"127.0.0.1:{free_port()}",
        "E911_METRICS_LISTEN": f"127.0.0.1:{free_port()}",
        "E911_SMTP_URL": smtp_url or f"smtp://127.0.0.1:{free_port()}",
        "E911_ANNOUNCE_OVERFLOW": "reject",
        "E911_LOG_FORMAT": "json",
        "E911_PROMPTS_DIR": str(ROOT / "config" / "prompts"),
    })
    env.update(extra)
    return env


def start_router(workdir: Path, trunks_: Trunks, *, workers: int,
                 extra: Mapping[str, str] | None = None,
                 smtp_url: str | None = None,
                 seed_more: Callable[[str], object] | None = None) -> Router:
    """`e911-router run` (Kamailio + workers) on a fresh store, logging to a file.
    `seed_more(url)` adds to the store before the router starts (the cold users)."""
    seed_store(f"sqlite:///{workdir / 'e911.db'}")
    if seed_more is not None:
        seed_more(f"sqlite:///{workdir / 'e911.db'}")
    sip_port = free_port()
    env = router_env(workdir, trunks_, workers=workers, sip_port=sip_port, extra=extra or {},
                     smtp_url=smtp_url)
    log_file = workdir / "router.log"
    with log_file.open("wb") as out:
        proc = subprocess.Popen([PY, "-m", "router", "run", "--trunk-probe-seconds", "0"],
                                cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=out, start_new_session=True)
    router = Router("router", sip_port, proc, log_file)
    try:
        wait_for(lambda: b'"e911.supervisor.ready"' in log_file.read_bytes()
                 or proc.poll() is not None, 90, "the router to start")
        if proc.poll() is not None:
            raise LoadError(f"router exited {proc.returncode}: "
                            + log_file.read_text(errors="replace")[-2000:])
        from router.settings_parsers import HostPort
        from router.supervisor import sip_options_ok

        wait_for(lambda: sip_options_ok(HostPort("127.0.0.1", sip_port)), 30, "the front")
    except BaseException:
        router.stop()
        raise
    return router


KAMAILIO_PROXY = ROOT / "scripts" / "peers" / "kamailio-routing-proxy.cfg"


def start_kamailio_proxy(workdir: Path, trunks_: Trunks) -> System:
    """Peer (a): Kamailio alone, the same whole-string 911/933 classification, no location:
    911/933 to the PSAP trunk, everything else to the outbound trunk."""
    from dialplan import DialPlanConfig
    from router.kamailio.patterns import emergency_patterns

    patterns = emergency_patterns(DialPlanConfig())
    port = free_port()
    text = KAMAILIO_PROXY.read_text()
    for key, value in {"LISTEN": f"udp:127.0.0.1:{port}", "EMERGENCY_RE": patterns.emergency,
                       "TEST_RE": patterns.test, "SOS_URN_RE": patterns.sos_urn,
                       "PSAP": f"127.0.0.1:{trunks_.psap.port}",
                       "OUTBOUND_HOST": "127.0.0.1",
                       "OUTBOUND_PORT": str(trunks_.outbound.port)}.items():
        text = text.replace(f"@{key}@", value)
    cfg = workdir / "kamailio-proxy.cfg"
    cfg.write_text(text)
    check = subprocess.run(["kamailio", "-c", "-f", str(cfg)], capture_output=True, text=True,
                           timeout=30, check=False)
    if check.returncode != 0:
        raise LoadError(f"kamailio -c refused the proxy config: {check.stderr[-800:]}")
    log_file = workdir / "kamailio-proxy.log"
    with log_file.open("wb") as out:
        proc = subprocess.Popen(["kamailio", "-DD", "-E", "-f", str(cfg), "-m", "512", "-M",
                                 "16", "-Y", str(workdir)], stdin=subprocess.DEVNULL,
                                stdout=out, stderr=out, start_new_session=True)
    system = System("kamailio-proxy", port, proc, log_file)
    from router.settings_parsers import HostPort
    from router.supervisor import sip_options_ok

    wait_for(lambda: sip_options_ok(HostPort("127.0.0.1", port)), 20, "the Kamailio proxy")
    return system


def start_sippy(workdir: Path, trunks_: Trunks) -> System:
    """Peer (b): the sippy B2BUA (PyPI `sippy`, installed only for the bench), bridging every
    call to one trunk (its static route): it has no dial plan and no location."""
    binary = shutil.which("b2bua", path=str(Path(PY).parent)) or shutil.which("b2bua")
    if binary is None:
        raise LoadError("sippy's b2bua is not installed: .venv/bin/pip install sippy")
    port = free_port()
    log_file = workdir / "sippy.log"
    with log_file.open("wb") as out:
        proc = subprocess.Popen(
            # -f: stay in the foreground (the long --foreground=on still daemonizes).
            [binary, "-f", "--sip_address=127.0.0.1", f"--sip_port={port}",
             f"--b2bua_socket={workdir / 'b2bua.sock'}",
             "--auth_enable=off", "--acct_enable=off",
             f"--static_route=127.0.0.1:{trunks_.outbound.port}",
             f"--logfile={workdir / 'sippy-b2bua.log'}"],
            cwd=workdir, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
            # Its default logs every SIP message (INFO); warnings only, like the others here.
            env={**os.environ, "SIPLOG_LVL": "WARN"}, start_new_session=True)
    system = System("sippy", port, proc, log_file)

    def answers() -> bool:
        if proc.poll() is not None:
            raise LoadError(f"sippy exited {proc.returncode}: "
                            + log_file.read_text(errors="replace")[-800:])
        return udp_port_taken(port) and sip_replies(port)

    wait_for(answers, 20, "sippy")
    return system


# -- callers -----------------------------------------------------------------------------------


@dataclass
class Caller:
    call_class: CallClass
    proc: subprocess.Popen[bytes]
    stat_file: Path
    rtt_file: Path
    error_file: Path
    calls: int
    args: list[str] = field(default_factory=list)
    """SIPp's command line."""


def _rate_args(rate: float) -> list[str]:
    # SIPp: -r calls per -rp milliseconds.
    if rate >= 10:
        return ["-r", str(round(rate)), "-rp", "1000"]
    return ["-r", "1", "-rp", str(round(1000 / rate))]


def start_callers(classes: Sequence[CallClass], port: int, rate: float, seconds: float,
                  hold_ms: int, workdir: Path, tag: str) -> list[Caller]:
    check_bounds(rate, seconds, "127.0.0.1")
    callers = []
    for cls in classes:
        class_rate = rate * cls.share
        calls = max(1, round(class_rate * seconds))
        base = workdir / f"{tag}-{cls.name}"
        limit = max(50, int(class_rate * (hold_ms / 1000 + 5) * 2))
        args = [SIPP, f"127.0.0.1:{port}", "-sf", str(LOAD / f"{cls.scenario}.xml"),
                "-inf", str(LOAD / cls.csv), *_rate_args(class_rate), "-m", str(calls),
                "-l", str(limit), "-d", str(hold_ms), "-i", "127.0.0.1",
                "-p", str(free_port()), "-mp", str(free_port()), "-nostdin",
                "-recv_timeout", "30000", "-timeout", f"{int(seconds + hold_ms / 1000 + 60)}s",
                "-timeout_error", "-trace_stat", "-stf", f"{base}-stat.csv", "-fd", "1",
                "-trace_rtt", "-rtt_freq", "1", "-trace_err", "-error_file", f"{base}.err"]
        proc = subprocess.Popen(args, cwd=workdir, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        callers.append(Caller(cls, proc, Path(f"{base}-stat.csv"), Path(), Path(f"{base}.err"),
                              calls, args))
    for caller in callers:
        # SIPp names the RTT file after the scenario and its own pid.
        caller.rtt_file = workdir / f"{caller.call_class.scenario}_{caller.proc.pid}_rtt.csv"
    return callers


@dataclass(frozen=True, slots=True)
class ClassResult:
    name: str
    offered: int
    successful: int
    failed: int
    retransmissions: int
    setup_p50_ms: float
    setup_p99_ms: float
    setup_max_ms: float
    exit_code: int

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.successful == self.offered


def _last_stat_row(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    if len(lines) < 2:
        return {}
    header = lines[0].rstrip(";").split(";")
    values = lines[-1].rstrip(";").split(";")
    return dict(zip(header, values, strict=False))


def percentile(values: Sequence[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def wait_callers(callers: Sequence[Caller], seconds: float) -> list[ClassResult]:
    results = []
    for caller in callers:
        try:
            code = caller.proc.wait(seconds)
        except subprocess.TimeoutExpired:
            caller.proc.kill()
            code = caller.proc.wait()
        row = _last_stat_row(caller.stat_file)
        times = []
        if caller.rtt_file.exists():
            for line in caller.rtt_file.read_text(errors="replace").splitlines()[1:]:
                parts = line.split(";")
                with contextlib.suppress(IndexError, ValueError):
                    times.append(float(parts[1]))
        successful = int(row.get("SuccessfulCall(C)", "0") or 0)
        failed = int(row.get("FailedCall(C)", "0") or 0)
        results.append(ClassResult(
            name=caller.call_class.name, offered=caller.calls, successful=successful,
            failed=failed + max(0, caller.calls - successful - failed),
            retransmissions=int(row.get("Retransmissions(C)", "0") or 0),
            setup_p50_ms=percentile(times, 0.5), setup_p99_ms=percentile(times, 0.99),
            setup_max_ms=max(times) if times else float("nan"), exit_code=code))
    return results


# -- resources ---------------------------------------------------------------------------------

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    with contextlib.suppress(OSError, IndexError, ValueError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICKS
    return 0.0


def rss_mb(pid: int) -> float:
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU jiffies of the whole machine, all cores."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return float(sum(fields) - idle), float(sum(fields))


@dataclass
class Usage:
    """CPU (share of one core) and peak RSS per named process, plus the machine's busy share."""

    cpu_core_share: dict[str, float] = field(default_factory=dict)
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    """CPU seconds (user + system, /proc/<pid>/stat) each group used between start and end."""
    rss_peak_mb: dict[str, float] = field(default_factory=dict)
    machine_busy_share: float = 0.0
    others_core_share: float = 0.0
    """Cores busy with processes outside this run (other engineers' work on the machine)."""
    load_average: str = ""


class UsageMeter:
    """CPU and peak RSS of named process groups, sampled while they run (a process that has
    exited keeps the CPU it had at its last sample)."""

    def __init__(self, named: Mapping[str, Sequence[int]]) -> None:
        self._named: dict[str, list[int]] = {k: list(v) for k, v in named.items()}
        self._start: dict[int, float] = {p: cpu_seconds(p) for v in named.values() for p in v}
        self._last: dict[int, float] = dict(self._start)
        self._peak: dict[str, float] = {}
        self._t0 = time.monotonic()
        self._m0 = machine_busy()
        self.load_average = Path("/proc/loadavg").read_text().split()[0]

    def add(self, name: str, pids: Sequence[int]) -> None:
        """A group started after the meter (its CPU counts from zero)."""
        self._named.setdefault(name, []).extend(pids)
        for pid in pids:
            self._start.setdefault(pid, 0.0)

    def sample(self) -> None:
        for name, pids in self._named.items():
            for pid in pids:
                used = cpu_seconds(pid)
                if used > 0:
                    self._last[pid] = used
            self._peak[name] = max(self._peak.get(name, 0.0), sum(rss_mb(p) for p in pids))

    def finish(self) -> Usage:
        self.sample()
        elapsed = max(time.monotonic() - self._t0, 1e-6)
        m1 = machine_busy()
        cores = os.cpu_count() or 1
        busy_cores = (m1[0] - self._m0[0]) / max(m1[1] - self._m0[1], 1.0) * cores
        usage = Usage(load_average=self.load_average)
        ours = 0.0
        for name, pids in self._named.items():
            used = sum(self._last.get(p, 0.0) - self._start.get(p, 0.0) for p in pids)
            usage.cpu_core_share[name] = used / elapsed
            usage.cpu_seconds[name] = used
            ours += used
        usage.rss_peak_mb = dict(self._peak)
        usage.machine_busy_share = busy_cores
        usage.others_core_share = max(0.0, busy_cores - ours / elapsed)
        return usage


# -- the PSAP's INVITEs ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PsapCheck:
    invites: int
    valid: int
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.invites == self.valid


def check_psap(trunk: Trunk, *, limit: int | None = None,
               callbacks: frozenset[str] = frozenset()) -> PsapCheck:
    """Every INVITE at the PSAP: RFC 6442/3325 conformance, schema-valid PIDF-LO, the civic
    address we bound, and a callback number that is a located caller's own (a warm caller's,
    or one of `callbacks`: the cold run's 911 callers)."""
    from tests.support.pidf_check import InviteExpectation, assert_emergency_invite

    if trunk.log_file is None or not trunk.log_file.exists():
        return PsapCheck(0, 0, ())
    invites = logged_invites(trunk.log_file.read_bytes().decode("utf-8", errors="replace"))
    if limit is not None:
        invites = invites[:limit]
    callbacks = callbacks | {callback_of(u) for u in LOCATED_USERS}
    valid = 0
    problems: list[str] = []
    for invite in invites:
        try:
            assert_emergency_invite(invite, InviteExpectation(request_user="911",
                                                              has_location=True))
            match = re.search(r"^P-Asserted-Identity:.*?<(?:sip|tel):(\+\d+)", invite, re.M)
            if match is None or match.group(1) not in callbacks:
                raise AssertionError("callback number is not a located caller's")
            valid += 1
        except AssertionError as exc:
            if len(problems) < 5:
                problems.append(" ".join(str(exc).split())[:300])
    return PsapCheck(len(invites), valid, tuple(problems))


# -- the SMTP sink ----------------------------------------------------------------------------


class SinkHandler:
    """aiosmtpd handler: accepts every message (250) and counts messages and recipients."""

    def __init__(self) -> None:
        import threading

        self.messages = 0
        self.recipients = 0
        self.changed = threading.Condition()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.changed:
            self.messages += 1
            self.recipients += len(envelope.rcpt_tos)
            self.changed.notify_all()
        return "250 2.0.0 Message accepted for delivery"

    def wait_for(self, count: int, seconds: float) -> int:
        """Until `count` messages are in or `seconds` pass; returns how many are in."""
        deadline = time.monotonic() + seconds
        with self.changed:
            while self.messages < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.changed.wait(left)
            return self.messages


@contextlib.contextmanager
def smtp_sink() -> Iterator[tuple[str, SinkHandler]]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 and a free port, in this process: the
    router's mail relay during a load run. Yields its `smtp://` URL and the counting handler."""
    from aiosmtpd.controller import Controller

    handler = SinkHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{port}", handler
    finally:
        controller.stop()


@dataclass(frozen=True, slots=True)
class NotifyCheck:
    """Kari's Law e-mails of a run: what the sink accepted against what was owed."""

    smtp: str
    """"up" (the sink) or "down" (nothing listening)."""
    accepted: int
    owed: int
    """911 calls answered x the account's contacts."""

    @property
    def ok(self) -> bool:
        return self.smtp == "down" or self.accepted == self.owed

    def line(self) -> str:
        if self.smtp == "down":
            return (f"e-mails: SMTP down (nothing listens on E911_SMTP_URL); {self.owed} owed "
                    f"(911 calls answered x {len(CONTACTS)} contact), kept in the outbox")
        return (f"e-mails: {self.accepted} accepted by the SMTP sink of {self.owed} owed "
                f"(911 calls answered x {len(CONTACTS)} contact)"
                + ("" if self.ok else " MISSING OR EXTRA"))


# -- per-trunk counts ---------------------------------------------------------------------------

ROUTES: dict[str, dict[str, tuple[str, ...]]] = {
    "router": {"psap": ("emergency",), "sorting": (), "outbound": ("normal",)},
    "kamailio-proxy": {"psap": ("emergency",), "sorting": (),
                       "outbound": ("normal", "unlocated")},
    "sippy": {"psap": (), "sorting": (), "outbound": ("emergency", "normal", "unlocated")},
}
"""System -> trunk -> the call classes whose calls must arrive there, one call each (the
router refuses unlocated callers itself: no trunk)."""


def trunk_calls(trunk: Trunk) -> tuple[int, int]:
    """(calls the trunk has received, calls still up), from its SIPp statistics file (written
    every second)."""
    row = _last_stat_row(trunk.stat_file)
    return (int(row.get("TotalCallCreated", "0") or 0), int(row.get("CurrentCall", "0") or 0))


def settled_counts(trunks_: Sequence[Trunk], seconds: float = 10.0) -> dict[str, int]:
    """Each trunk's received calls once no call is up and two readings a second apart agree
    (the statistics lag a second); after `seconds`, whatever they say."""
    deadline = time.monotonic() + seconds
    previous: dict[str, tuple[int, int]] = {}
    while True:
        now = {t.name: trunk_calls(t) for t in trunks_}
        if (now == previous and all(up == 0 for _, up in now.values())) \
                or time.monotonic() > deadline:
            return {name: total for name, (total, _) in now.items()}
        previous = now
        time.sleep(1.1)


@dataclass(frozen=True, slots=True)
class TrunkCount:
    trunk: str
    received: int
    expected: int

    @property
    def ok(self) -> bool:
        return self.received == self.expected


def expected_counts(system: str, classes: Sequence[ClassResult], before: Mapping[str, int],
                    extra: Mapping[str, int], after: Mapping[str, int]) -> list[TrunkCount]:
    """Per trunk: the calls it received during the run (`after` - `before`) against the
    calls offered of the classes routed there, plus `extra` (the storm's answered calls)."""
    offered = {c.name: c.offered for c in classes}
    return [TrunkCount(trunk, after.get(trunk, 0) - before.get(trunk, 0),
                       sum(offered.get(name, 0) for name in names) + extra.get(trunk, 0))
            for trunk, names in ROUTES[system].items()]


# -- one run -----------------------------------------------------------------------------------


@dataclass
class RunResult:
    system: str
    profile: str
    rate: float
    seconds: float
    classes: list[ClassResult]
    usage: Usage
    psap: PsapCheck | None
    notify: NotifyCheck | None = None
    warmup: ClassResult | None = None
    """The uncounted warm-up before the measured run (`warm_up`), when there was one."""
    seeding: Seeding | None = None
    """The cold profile: the users bulk-written before the router started."""
    commands: list[str] = field(default_factory=list)
    """The callers' SIPp command lines (the run directory as $RUN, the system's port as
    $PORT), to rerun them by hand."""
    storm: StormResult | None = None
    """`--rebind-storm`: the users re-bound while the calls flowed, and the stale check."""
    trunk_counts: list[TrunkCount] = field(default_factory=list)
    """Calls each trunk received during the run against the calls routed there (exact)."""
    worker_decided: dict[str, int] = field(default_factory=dict)
    """The router: per class, how many of its calls a worker decided (logged
    `e911.route.decided`); the rest of the located ordinary calls the front answered from its
    route cache. The cold profile: all of them."""

    @property
    def calls(self) -> int:
        return sum(c.offered for c in self.classes)

    def cpu_ms_per_call(self) -> dict[str, float]:
        """CPU milliseconds per call offered, per process group, SIPp excluded."""
        calls = max(1, self.calls)
        return {name: used * 1000 / calls for name, used in self.usage.cpu_seconds.items()
                if "SIPp" not in name}

    @property
    def emergency_without_location(self) -> int:
        """Answered 911s of located callers that did not reach the PSAP with a valid PIDF-LO
        (e.g. sent on to the sorting center): failures too."""
        if self.psap is None:
            return 0
        answered = sum(c.successful for c in self.classes if c.name == "emergency")
        return max(0, answered - self.psap.valid)

    @property
    def failed(self) -> int:
        """Failed calls, answered 911s without a valid PIDF-LO, and calls missing at (or
        extra to) a trunk, when no failed call accounts for them."""
        calls = sum(c.failed + (c.offered - c.successful - c.failed) for c in self.classes) + \
            self.emergency_without_location
        astray = sum(abs(t.received - t.expected) for t in self.trunk_counts)
        return calls if calls else astray

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.classes) and (self.psap is None or self.psap.ok) and \
            self.emergency_without_location == 0 and (self.notify is None or self.notify.ok) \
            and (self.storm is None or self.storm.ok) \
            and all(t.ok for t in self.trunk_counts)

    @property
    def emergency_answered(self) -> int:
        return sum(c.successful for c in self.classes if c.name == "emergency")


WARMUP_SHARE = 0.25
"""Warm-up rate, as a share of the measured rate."""


def warmup_class(classes: Sequence[CallClass]) -> CallClass | None:
    """The warm-up's callers: the profile's located ordinary class at the whole warm-up rate,
    always from the warm callers' callers-normal.csv (never a cold run's CSV: its callers must
    be new to the measured run)."""
    normal = [c for c in classes if c.name == "normal"]
    if not normal:
        return None
    return CallClass(normal[0].name, normal[0].scenario, "callers-normal.csv", 1.0)


def warm_up(system: System, classes: Sequence[CallClass], *, rate: float, seconds: float,
            hold_ms: int, workdir: Path, tag: str) -> ClassResult | None:
    """Steady state, not a cold start: before the measured run, the profile's located
    ordinary callers place calls at a quarter of the rate for `seconds` (counted apart,
    reported, never in the figures). A router that has run for a while has met its callers:
    its front's route cache holds them (docs/kamailio.md); a cold start at full rate is
    measured by the runs without warm-up. Only ordinary calls: no 911 reaches the PSAP trunk,
    whose INVITEs the measured run checks."""
    only = warmup_class(classes)
    if seconds <= 0 or only is None:
        return None
    callers = start_callers([only], system.port, max(1.0, rate * WARMUP_SHARE), seconds,
                            hold_ms, workdir, f"{tag}-warmup")
    (result,) = wait_callers(callers, seconds + hold_ms / 1000 + 60)
    return result


def run_load(system: System, classes: Sequence[CallClass], *, profile: str, rate: float,
             seconds: float, hold_ms: int, workdir: Path, tag: str, psap: Trunk | None = None,
             trunk_pids: Sequence[int] = (), warmup_seconds: float = 0,
             callbacks: frozenset[str] = frozenset(),
             storm: StormSpec | None = None, trunks_: Trunks | None = None) -> RunResult:
    """`storm`: re-bind users while the callers run (`run_storm`, in a thread; its probe
    callers are not in the classes' figures, their CPU is in the processes')."""
    import threading

    warmup = warm_up(system, classes, rate=rate, seconds=warmup_seconds, hold_ms=hold_ms,
                     workdir=workdir, tag=tag)
    before = settled_counts(trunks_.all()) if trunks_ is not None and warmup is not None \
        else {}
    meter = UsageMeter({**system.pids(), "trunks (SIPp)": list(trunk_pids)})
    callers = start_callers(classes, system.port, rate, seconds, hold_ms, workdir, tag)
    meter.add("callers (SIPp)", [c.proc.pid for c in callers])
    deadline = time.monotonic() + seconds + hold_ms / 1000 + 90
    stormed: list[StormResult] = []
    storm_thread = None
    if storm is not None:
        url = f"sqlite:///{workdir / 'e911.db'}"

        def storm_run() -> None:
            try:
                stormed.append(run_storm(storm, url, system.port, workdir))
            except Exception as exc:  # reported, and the run fails
                stormed.append(StormResult(storm.users, storm.primed, error=repr(exc)))

        storm_thread = threading.Thread(target=storm_run, name="rebind-storm", daemon=True)
        storm_thread.start()
    while any(c.proc.poll() is None for c in callers) and time.monotonic() < deadline:
        meter.sample()
        time.sleep(1.0)
    usage = meter.finish()
    results = wait_callers(callers, max(1.0, deadline - time.monotonic()))
    if storm_thread is not None:
        storm_thread.join(600)
    check = check_psap(psap, callbacks=callbacks) if psap is not None else None
    storm_result = (stormed[0] if stormed else StormResult(
        storm.users, storm.primed, error="still running after 600 s")) \
        if storm is not None else None
    decided = {}
    if isinstance(system, Router):
        decided = worker_decisions(system.log_file, {c.call_class.name: c.proc.pid
                                                     for c in callers})
    counts = []
    if trunks_ is not None and system.name in ROUTES:
        counts = expected_counts(system.name, results, before,
                                 {"outbound": storm_result.answered} if storm_result else {},
                                 settled_counts(trunks_.all()))
    return RunResult(system.name, profile, rate, seconds, results, usage, check,
                     warmup=warmup, commands=[
                         command_line(c.args, workdir, system.port) for c in callers],
                     storm=storm_result, trunk_counts=counts, worker_decided=decided)


def worker_decisions(log_file: Path, pids: Mapping[str, int]) -> dict[str, int]:
    """Class -> calls of its SIPp caller (Call-ID `<n>-<pid>@...`) a worker logged a decision
    for (`e911.route.decided`), each call once."""
    text = log_file.read_bytes().decode("utf-8", errors="replace") if log_file.exists() else ""
    found: dict[int, set[str]] = {pid: set() for pid in pids.values()}
    for match in re.finditer(r'"call_id": "(\d+)-(\d+)@[^"]*"[^\n]*?"event": '
                             r'"e911\.route\.decided"', text):
        pid = int(match.group(2))
        if pid in found:
            found[pid].add(match.group(1))
    return {name: len(found[pid]) for name, pid in pids.items()}


def command_line(args: Sequence[str], workdir: Path, port: int) -> str:
    """SIPp's argv as a shell line: the run directory as $RUN, the system's port as $PORT,
    SIPp's own ports left out (it picks free ones), paths relative to the repository."""
    import shlex

    out: list[str] = []
    skip = False
    for index, arg in enumerate(args):
        if skip:
            skip = False
            continue
        if arg in ("-p", "-mp"):
            skip = True
            continue
        text = "sipp" if index == 0 else \
            arg.replace(str(workdir), "$RUN").replace(str(ROOT) + "/", "")
        if text == f"127.0.0.1:{port}":
            text = "127.0.0.1:$PORT"
        out.append(text if "$" in text else shlex.quote(text))
    return " ".join(out)


# -- the change storm: re-binding users while calls flow ------------------------------------

STORM_BASE = 4_000_000
"""Storm user i is SIP user STORM_BASE + i (never a warm or cold caller)."""
STORM_SCENARIO = "uac-storm-probe"
STORM_OLD = int(ipaddress.IPv4Address("10.64.0.0"))
STORM_NEW = int(ipaddress.IPv4Address("10.96.0.0"))


def storm_ip(i: int, *, new: bool) -> str:
    """Storm user i's device IP: bound before the storm (10.64/11) or after it (10.96/11)."""
    if not 0 <= i < 1 << 21:
        raise LoadError("a storm re-binds at most 2,097,152 users")
    return str(ipaddress.IPv4Address((STORM_NEW if new else STORM_OLD) + i))


@dataclass(frozen=True, slots=True)
class StormSpec:
    """`users` re-bound through `Store.bind`, one transaction each, `after` seconds into the
    run; the last `primed` of them (in re-binding order) called once from their old device IP
    before the storm (so the front's route cache holds their old decision), and probed `grace`
    seconds after the last re-binding committed (0: at once), at `rate` calls/s, the latest
    re-bound first."""

    users: int
    primed: int
    rate: float = 100.0
    after: float = 2.0
    grace: float = 0.0
    """Seconds between the last commit and the first probe (0: at once)."""


@dataclass
class StormResult:
    """What the storm cost. The check: once the last `bind` has returned (committed), every
    probe call is decided on the new bindings: user i calling from its OLD device IP must be
    refused (403 "Emergency address not registered": no binding for that network any more) and
    from its NEW device IP routed (200 at the outbound trunk). A probe from the old IP answered
    200 is a stale route (the old decision used: the cache or a worker's view not yet
    reloaded); one from the new IP answered 403 is a stale refusal. A probe SIPp gave up on
    (no answer, another status) is a failed call."""

    users: int
    primed: int
    rebind_seconds: float = 0.0
    rebind_failures: int = 0
    prime_failed: int = 0
    """Primed calls (old IP, before the storm) not answered 200: the setup is wrong."""
    probes: int = 0
    answered: int = 0
    """Priming and probe calls answered 200 (each one a call at the outbound trunk)."""
    stale_routes: int = 0
    stale_refusals: int = 0
    probe_failed: int = 0
    examples: list[str] = field(default_factory=list)
    error: str = ""

    @property
    def ok(self) -> bool:
        return not (self.rebind_failures or self.prime_failed or self.stale_routes
                    or self.stale_refusals or self.probe_failed or self.error)

    def line(self) -> str:
        if self.error:
            return f"rebind storm: not completed: {self.error}"
        return (f"rebind storm: {self.users:,} users re-bound in {self.rebind_seconds:.1f} s "
                f"({self.users / max(self.rebind_seconds, 1e-9):,.0f}/s), "
                f"{self.rebind_failures} failed; {self.primed:,} primed from their old IP "
                f"({self.prime_failed} not answered 200); {self.probes:,} probes after the "
                f"last commit: {self.stale_routes} stale routes (old IP answered 200), "
                f"{self.stale_refusals} stale refusals (new IP answered 403), "
                f"{self.probe_failed} failed"
                + (f" ({'; '.join(self.examples[:3])})" if self.examples else ""))


def seed_storm_users(url: str, spec: StormSpec) -> Seeding:
    """The storm users, each with the load office bound to its old device IP (bulk)."""
    from router.store.store import open_store
    from tests.support.bulk_seed import BulkUser, bulk_add_users

    started = time.monotonic()
    with contextlib.redirect_stdout(sys.stderr):
        store = open_store(url)
    try:
        located = bulk_add_users(store, (
            BulkUser(str(STORM_BASE + i), None, storm_ip(i, new=False))
            for i in range(spec.users)), load_office())
    finally:
        store.close()
    return Seeding(located, 0, time.monotonic() - started)


def _probe(port: int, rows: Sequence[tuple[str, str, int, str]], rate: float, workdir: Path,
           name: str) -> tuple[dict[int, CallerAnswer], dict[int, str]]:
    """One SIPp caller placing `rows` (caller, dialled, row, device IP) once each; the final
    answer of each row, and SIPp's complaints."""
    csv = workdir / f"{name}.csv"
    csv.write_text("SEQUENTIAL\n" + "".join(f"{c};{d};{r};{ip}\n" for c, d, r, ip in rows))
    seconds = len(rows) / rate
    args = [SIPP, f"127.0.0.1:{port}", "-sf", str(LOAD / f"{STORM_SCENARIO}.xml"),
            "-inf", str(csv), *_rate_args(rate), "-m", str(len(rows)),
            "-l", str(max(50, int(rate * 20))), "-d", "100", "-i", "127.0.0.1",
            "-p", str(free_port()), "-mp", str(free_port()), "-nostdin",
            "-recv_timeout", "30000", "-timeout", f"{int(seconds + 60)}s", "-timeout_error",
            "-trace_logs", "-log_file", str(workdir / f"{name}-calls.log"),
            "-trace_err", "-error_file", str(workdir / f"{name}.err")]
    proc = subprocess.Popen(args, cwd=workdir, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        proc.wait(seconds + 90)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()

    def text(path: Path) -> str:
        return path.read_bytes().decode("utf-8", errors="replace") if path.exists() else ""

    return (caller_answers(text(workdir / f"{name}-calls.log")),
            caller_errors(text(workdir / f"{name}.err")))


def run_storm(spec: StormSpec, url: str, port: int, workdir: Path,
              stop: Callable[[], bool] = lambda: False) -> StormResult:
    """Prime, re-bind, probe (`StormSpec`, `StormResult`)."""
    from router.location.model import DEFAULT_ACCOUNT_ID
    from router.store.store import open_store

    result = StormResult(spec.users, spec.primed)
    account = DEFAULT_ACCOUNT_ID
    order = list(range(spec.users))  # re-binding order: the primed users last
    primed = order[spec.users - spec.primed:]
    with contextlib.redirect_stdout(sys.stderr):
        store = open_store(url)
    try:
        # Each user's one saved address (a read each, before the storm: not timed).
        addresses = {}
        for i in order:
            (binding,) = store.bindings_for_user(account, str(STORM_BASE + i))
            addresses[i] = binding.address_id
        deadline = time.monotonic() + spec.after
        while time.monotonic() < deadline and not stop():
            time.sleep(0.1)
        answers, _ = _probe(port, [(str(STORM_BASE + i), cold_callers.dialled(i), i,
                                    storm_ip(i, new=False)) for i in primed],
                            spec.rate, workdir, "storm-prime")
        result.prime_failed = sum(1 for i in primed
                                  if answers.get(i, CallerAnswer(0)).status != 200)
        result.answered += len(primed) - result.prime_failed
        started = time.monotonic()
        for i in order:
            try:
                store.bind(account, str(STORM_BASE + i), addresses[i], storm_ip(i, new=True))
            except Exception as exc:  # counted: the storm goes on
                result.rebind_failures += 1
                if len(result.examples) < 3:
                    result.examples.append(f"bind {STORM_BASE + i}: {exc}")
        result.rebind_seconds = time.monotonic() - started
    finally:
        store.close()
    # Right after the last commit: row 2k from the old IP (expect 403), 2k+1 from the new.
    time.sleep(spec.grace)
    rows = []
    for i in reversed(primed):  # the latest re-bound first
        user = str(STORM_BASE + i)
        rows.append((user, cold_callers.dialled(i), 2 * i, storm_ip(i, new=False)))
        rows.append((user, cold_callers.dialled(i), 2 * i + 1, storm_ip(i, new=True)))
    answers, errors = _probe(port, rows, spec.rate, workdir, "storm-probe")
    judge_probes(result, rows, answers, errors)
    return result


def judge_probes(result: StormResult, rows: Sequence[tuple[str, str, int, str]],
                 answers: Mapping[int, CallerAnswer], errors: Mapping[int, str]) -> None:
    """Count each probe's answer into `result`: even rows come from the old device IP
    (expected 403 with the blocked Reason), odd rows from the new one (expected 200)."""
    result.probes += len(rows)
    result.answered += sum(1 for a in answers.values() if a.status == 200)
    for user, _, row, ip in rows:
        answer = answers.get(row)
        old = row % 2 == 0
        if answer is None:
            result.probe_failed += 1
            why = f"no answer ({errors[row]})" if row in errors else "no answer"
        elif old and answer.status == 200:
            result.stale_routes += 1
            why = "answered 200 (stale route)"
        elif not old and answer.status == 403:
            result.stale_refusals += 1
            why = "answered 403 (stale refusal)"
        elif answer.status not in (200, 403) or (answer.status == 403
                                                 and answer.reason != BLOCKED_REASON):
            result.probe_failed += 1
            why = f"answered {answer.status} {answer.reason!r}"
        else:
            continue
        if len(result.examples) < 3:
            result.examples.append(f"user {user} from {ip}: {why}")


# -- the compliance run: each call against its row ------------------------------------------

COMPLIANCE_CSV = "compliance.csv"
COMPLIANCE_SCENARIO = "uac-compliance"
COMPLIANCE_ROWS = 400
BLOCKED_REASON = "Emergency address not registered"
EXPECTED_TRUNKS = ("psap", "sorting", "outbound", "blocked")
"""Where a row's call must end: a trunk, or refused with 403 (blocked) and no trunk at all."""


@dataclass(frozen=True, slots=True)
class ComplianceRow:
    """One line of the injection CSV: `caller;dialled;row;expect;callback;location`."""

    row: int
    caller: str
    dialled: str
    expect: str
    """psap | sorting | outbound | blocked (EXPECTED_TRUNKS)."""
    callback: str = ""
    """The number P-Asserted-Identity must carry (emergency rows); empty: not checked."""
    location: bool = False
    """A PIDF-LO with the bound address is required (True) or forbidden (False, 911 rows)."""

    def line(self) -> str:
        return (f"{self.caller};{self.dialled};{self.row};{self.expect};{self.callback};"
                f"{'yes' if self.location else 'no'}")

    def describe(self) -> str:
        return f"row {self.row} ({self.caller} dials {self.dialled}, expects {self.expect})"


def compliance_rows(count: int = COMPLIANCE_ROWS) -> list[ComplianceRow]:
    """The rows of compliance.csv, by blocks of 20: 2 located 911s (one dialled 9911: an
    access prefix), 1 unlocated 911 from a caller with a callback number of their own, 1
    unlocated 911 taking the account's number, 1 unlocated normal call (refused: 403 + Reason),
    15 located normal calls. Every emergency row is a different caller."""
    rows: list[ComplianceRow] = []
    located_911 = iter(LOCATED_USERS)
    located_normal = iter(LOCATED_USERS[len(LOCATED_USERS) // 2:])
    own_911 = iter(OWN_CALLBACK_UNLOCATED_USERS)
    account_911 = iter(UNLOCATED_USERS)
    blocked = iter(UNLOCATED_USERS[len(UNLOCATED_USERS) // 2:])
    for index in range(count):
        row, slot = index + 1, index % 20
        if slot in (0, 10):
            user = next(located_911)
            rows.append(ComplianceRow(row, str(user), "911" if slot == 0 else "9911", "psap",
                                      callback_of(user), True))
        elif slot == 5:
            user = next(own_911)
            rows.append(ComplianceRow(row, str(user), "911", "sorting", callback_of(user)))
        elif slot == 15:
            rows.append(ComplianceRow(row, str(next(account_911)), "911", "sorting",
                                      ACCOUNT_CALLBACK))
        elif slot == 19:
            rows.append(ComplianceRow(row, str(next(blocked)), f"406555{row:04d}", "blocked"))
        else:
            user = next(located_normal)
            rows.append(ComplianceRow(row, str(user), f"406555{row:04d}", "outbound"))
    return rows


def compliance_csv_text(rows: Sequence[ComplianceRow]) -> str:
    return "SEQUENTIAL\n" + "".join(r.line() + "\n" for r in rows)


def read_compliance_csv(path: Path) -> list[ComplianceRow]:
    rows = []
    for number, text in enumerate(path.read_text().splitlines()[1:], 2):
        fields = text.split(";")
        if len(fields) != 6 or fields[3] not in EXPECTED_TRUNKS:
            raise LoadError(f"{path.name}:{number}: not caller;dialled;row;expect;callback;"
                            f"location with expect in {'/'.join(EXPECTED_TRUNKS)}: {text!r}")
        rows.append(ComplianceRow(int(fields[2]), fields[0], fields[1], fields[3], fields[4],
                                  fields[5] == "yes"))
    return rows


@dataclass(frozen=True, slots=True)
class TrunkInvite:
    """An INVITE a trunk received, with what ties it to a row."""

    trunk: str
    text: str
    call_id: str
    row: int | None
    """From the Call-ID (c<row>-...) when the INVITE is the caller's, relayed by the front."""
    pai_number: str | None
    request_user: str | None


_ROW_TAG = re.compile(r"^c(\d+)-")
_PAI_NUMBER = re.compile(r"<(?:sip|tel):(\+?\d+)", re.I)
_REQUEST_USER = re.compile(r"^INVITE (?:sips?|tel):([^@;>\s]+)")


def parse_invite(trunk: str, text: str) -> TrunkInvite:
    message = parse_sip_message(text)
    cid = next(iter((message.header("Call-ID") or "").split()), "")
    tag = _ROW_TAG.match(cid)
    pai = _PAI_NUMBER.search(message.header("P-Asserted-Identity") or "")
    user = _REQUEST_USER.match(message.start_line)
    return TrunkInvite(trunk, text, cid, int(tag.group(1)) if tag else None,
                       pai.group(1) if pai else None, user.group(1) if user else None)


@dataclass(frozen=True, slots=True)
class CallerAnswer:
    status: int
    reason: str = ""


def caller_answers(log_text: str) -> dict[int, CallerAnswer]:
    """row -> the final answer the caller logged ("row;status;reason" lines)."""
    answers = {}
    for line in log_text.splitlines():
        parts = line.strip().split(";", 2)
        if len(parts) == 3 and parts[0].isdigit() and parts[1].isdigit():
            answers[int(parts[0])] = CallerAnswer(int(parts[1]), parts[2])
    return answers


def caller_errors(error_text: str) -> dict[int, str]:
    """row -> SIPp's first complaint about its call (unexpected answer, timeout)."""
    errors: dict[int, str] = {}
    for line in error_text.splitlines():
        match = re.search(r"Call-Id '?c(\d+)-", line, re.I)
        if match and int(match.group(1)) not in errors:
            errors[int(match.group(1))] = " ".join(line.split())[:200]
    return errors


def check_rows(rows: Sequence[ComplianceRow], answers: Mapping[int, CallerAnswer],
               invites: Sequence[TrunkInvite], errors: Mapping[int, str] | None = None,
               office: Any = None) -> tuple[dict[int, list[str]], list[str]]:
    """Each row's call against the row: ({row: problems}, INVITEs that fit no row). Pure.

    An INVITE belongs to a row by its Call-ID (the front relayed the caller's INVITE), else,
    for an emergency row, by its P-Asserted-Identity number (a worker's bridge makes a new
    Call-ID): first at the row's expected trunk, then anywhere."""
    from tests.support.pidf_check import InviteExpectation, assert_emergency_invite

    errors = errors or {}
    by_row: dict[int, list[TrunkInvite]] = {}
    loose: list[TrunkInvite] = []
    known = {r.row for r in rows}
    for invite in invites:
        if invite.row is not None and invite.row in known:
            by_row.setdefault(invite.row, []).append(invite)
        else:
            loose.append(invite)
    for row in rows:
        if row.row in by_row or not row.callback:
            continue
        fits = [i for i in loose if i.pai_number == row.callback]
        fits.sort(key=lambda i: i.trunk != row.expect)
        if fits:
            by_row[row.row] = [fits[0]]
            loose.remove(fits[0])
    problems: dict[int, list[str]] = {}
    for row in rows:
        found: list[str] = []
        answer = answers.get(row.row)
        reached = by_row.get(row.row, [])
        if answer is None:
            found.append("no final answer at the caller"
                         + (f" (SIPp: {errors[row.row]})" if row.row in errors else ""))
        elif row.expect == "blocked":
            if answer.status != 403 or answer.reason != BLOCKED_REASON:
                found.append(f"caller got {answer.status} {answer.reason!r}, expected 403 "
                             f"with Reason text {BLOCKED_REASON!r}")
        elif answer.status != 200:
            found.append(f"caller got {answer.status} {answer.reason!r}, expected 200")
        if row.expect == "blocked":
            found += [f"an INVITE reached the {i.trunk} trunk" for i in reached]
        elif not reached:
            found.append(f"no INVITE at the {row.expect} trunk")
        else:
            if len(reached) > 1:
                found.append(f"{len(reached)} INVITEs: "
                             + ", ".join(i.trunk for i in reached))
            invite = reached[0]
            if invite.trunk != row.expect:
                found.append(f"reached the {invite.trunk} trunk, expected {row.expect}")
            if row.expect == "outbound":
                # The worker's 302 names the number in E.164 (a national number gets +1).
                wanted = f"+1{row.dialled}" if len(row.dialled) == 10 else row.dialled
                if invite.request_user != wanted:
                    found.append(f"Request-URI user {invite.request_user!r}, expected "
                                 f"{wanted!r}")
            else:
                try:
                    assert_emergency_invite(invite.text, InviteExpectation(
                        request_user="911", callback_number=row.callback or None,
                        has_location=row.location,
                        civic=office.civic if row.location and office is not None else None))
                except AssertionError as exc:
                    found.append(" ".join(str(exc).split())[:400])
        if found:
            problems[row.row] = found
    strays = [f"{i.trunk} trunk: INVITE to {i.request_user} (Call-ID {i.call_id}, PAI "
              f"{i.pai_number}) fits no row" for i in loose]
    return problems, strays


@dataclass
class ComplianceResult:
    rows: list[ComplianceRow]
    problems: dict[int, list[str]]
    strays: list[str]
    usage: Usage
    setup_p99_ms: float

    @property
    def ok(self) -> bool:
        return not self.problems and not self.strays


def read_evidence(workdir: Path) -> tuple[dict[int, CallerAnswer], list[TrunkInvite],
                                         dict[int, str]]:
    """What a compliance run left in `workdir`: the caller's answers per row, every INVITE the
    trunks received, SIPp's complaints per row."""
    def text(name: str) -> str:
        path = workdir / name
        return path.read_bytes().decode("utf-8", errors="replace") if path.exists() else ""

    invites = [parse_invite(name, m) for name in ("psap", "sorting", "outbound")
               for m in logged_invites(text(f"trunk-{name}.log"))]
    return (caller_answers(text("compliance-calls.log")), invites,
            caller_errors(text("compliance.err")))


def run_compliance(*, rate: float, seconds: float, hold_ms: int, workers: int, workdir: Path,
                   extra_env: Mapping[str, str] | None = None,
                   csv: Path = LOAD / COMPLIANCE_CSV) -> ComplianceResult:
    """Trunks (all three keeping their INVITEs) + the router + one SIPp caller placing the first
    min(rows, rate x seconds) rows once each; then every row checked. Torn down afterwards."""
    check_bounds(rate, seconds, "127.0.0.1")
    rows = read_compliance_csv(csv)[:max(1, round(rate * seconds))]
    workdir.mkdir(parents=True, exist_ok=True)
    base = workdir / "compliance"
    with trunks(workdir, keep_outbound=True) as trunks_:
        router = start_router(workdir, trunks_, workers=workers, extra=extra_env)
        try:
            meter = UsageMeter({**router.pids(),
                                "trunks (SIPp)": [t.proc.pid for t in trunks_.all()]})
            limit = max(50, int(rate * (hold_ms / 1000 + 15) * 2))
            scenario = LOAD / f"{COMPLIANCE_SCENARIO}.xml"
            args = [SIPP, f"127.0.0.1:{router.port}", "-sf", str(scenario), "-inf", str(csv),
                    *_rate_args(rate), "-m", str(len(rows)),
                    "-l", str(limit), "-d", str(hold_ms), "-i", "127.0.0.1",
                    "-p", str(free_port()), "-mp", str(free_port()), "-nostdin",
                    "-recv_timeout", "30000",
                    "-timeout", f"{int(seconds + hold_ms / 1000 + 60)}s", "-timeout_error",
                    "-trace_logs", "-log_file", f"{base}-calls.log",
                    "-trace_err", "-error_file", f"{base}.err",
                    "-trace_rtt", "-rtt_freq", "1"]
            caller = subprocess.Popen(args, cwd=workdir, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            meter.add("callers (SIPp)", [caller.pid])
            deadline = time.monotonic() + seconds + hold_ms / 1000 + 90
            while caller.poll() is None and time.monotonic() < deadline:
                meter.sample()
                time.sleep(1.0)
            if caller.poll() is None:
                caller.kill()
            caller.wait()
            usage = meter.finish()
        finally:
            router.stop()
        answers, invites, errors = read_evidence(workdir)
        problems, strays = check_rows(rows, answers, invites, errors, load_office())
    rtt = workdir / f"{COMPLIANCE_SCENARIO}_{caller.pid}_rtt.csv"
    times = []
    if rtt.exists():
        for line in rtt.read_text(errors="replace").splitlines()[1:]:
            with contextlib.suppress(IndexError, ValueError):
                times.append(float(line.split(";")[1]))
    return ComplianceResult(rows, problems, strays, usage, percentile(times, 0.99))


def compliance_summary(result: ComplianceResult, *, show: int = 50) -> str:
    counts: dict[str, int] = {}
    for row in result.rows:
        counts[row.expect] = counts.get(row.expect, 0) + 1
    lines = [f"compliance: {len(result.rows)} calls, one per row of {COMPLIANCE_CSV} ("
             + ", ".join(f"{n} {k}" for k, n in counts.items()) + "): "
             + ("OK" if result.ok else f"{len(result.problems)} row(s) differ"),
             f"setup p99 (final answer) {result.setup_p99_ms:.1f} ms"]
    by_number = {r.row: r for r in result.rows}
    for number in sorted(result.problems)[:show]:
        lines.append(f"  {by_number[number].describe()}: " + "; ".join(result.problems[number]))
    if len(result.problems) > show:
        lines.append(f"  ... and {len(result.problems) - show} more rows")
    lines += [f"  {stray}" for stray in result.strays[:show]]
    return "\n".join(lines)


# -- scripts/load ------------------------------------------------------------------------------


def run_once(system_name: str, profile: str, *, rate: float, seconds: float, hold_ms: int,
             workers: int, workdir: Path, extra_env: Mapping[str, str] | None = None,
             tag: str = "run", smtp: str = "up", warmup_seconds: float = 0,
             storm: StormSpec | None = None) -> RunResult:
    """Trunks + the system + the callers, all torn down afterwards. `smtp`: "up" (the router
    e-mails an SMTP sink, `smtp_sink`) or "down" (a port nothing listens on)."""
    if smtp not in ("up", "down"):
        raise LoadError(f"smtp must be up or down, not {smtp!r}")
    with contextlib.ExitStack() as stack:
        sink = stack.enter_context(smtp_sink()) if smtp == "up" and system_name == "router" \
            else None
        result = _run_system(system_name, profile, rate=rate, seconds=seconds,
                             hold_ms=hold_ms, workers=workers, workdir=workdir,
                             extra_env=extra_env, tag=tag, sink=sink,
                             warmup_seconds=warmup_seconds, storm=storm)
    return result


def _run_system(system_name: str, profile: str, *, rate: float, seconds: float, hold_ms: int,
                workers: int, workdir: Path, extra_env: Mapping[str, str] | None, tag: str,
                sink: tuple[str, SinkHandler] | None, warmup_seconds: float = 0,
                storm: StormSpec | None = None) -> RunResult:
    check_bounds(rate, seconds, "127.0.0.1")
    if storm is not None and system_name != "router":
        raise LoadError("a rebind storm re-binds the router's users: --system router only")
    workdir.mkdir(parents=True, exist_ok=True)
    plan = cold_plan(rate, seconds) if profile == COLD else None
    callbacks: frozenset[str] = frozenset()
    seeded: list[Seeding] = []
    if plan is not None:
        classes_ = cold_classes(plan, workdir)
        callbacks = frozenset(cold_callers.cold_callback(u) for u in plan.emergency_callers())
    else:
        classes_ = PROFILES[profile]
    with trunks(workdir) as trunks_:
        system: System
        if system_name == "router":
            system = start_router(
                workdir, trunks_, workers=workers, extra=extra_env,
                smtp_url=sink[0] if sink is not None else None,
                seed_more=lambda url: seed_run_users(url, plan, storm, seeded))
            classes = classes_
            psap: Trunk | None = trunks_.psap
        elif system_name == "kamailio-proxy":
            system = start_kamailio_proxy(workdir, trunks_)
            classes, psap = peer_classes(classes_), None
        elif system_name == "sippy":
            system = start_sippy(workdir, trunks_)
            classes, psap = peer_classes(classes_), None
        else:
            raise LoadError(f"unknown system {system_name!r}")
        try:
            result = run_load(system, classes, profile=profile, rate=rate, seconds=seconds,
                              hold_ms=hold_ms, workdir=workdir, tag=tag, psap=psap,
                              trunk_pids=[t.proc.pid for t in trunks_.all()],
                              warmup_seconds=warmup_seconds, callbacks=callbacks,
                              storm=storm, trunks_=trunks_)
            result.seeding = seeded[0] if seeded else None
            if system_name == "router":
                owed = result.emergency_answered * len(CONTACTS)
                if sink is None:
                    result.notify = NotifyCheck("down", 0, owed)
                else:
                    # The sender may still be draining the last poll's deliveries.
                    accepted = sink[1].wait_for(owed, NOTIFY_DRAIN_SECONDS)
                    result.notify = NotifyCheck("up", accepted, owed)
            return result
        finally:
            system.stop()


def seed_run_users(url: str, plan: cold_callers.ColdPlan | None, storm: StormSpec | None,
                   seeded: list[Seeding]) -> None:
    """The cold users and the storm users, bulk, timed together (`Seeding`)."""
    found = []
    if plan is not None:
        found.append(seed_cold_users(url, plan))
    if storm is not None:
        found.append(seed_storm_users(url, storm))
    if found:
        seeded.append(Seeding(sum(s.located for s in found), sum(s.unlocated for s in found),
                              sum(s.seconds for s in found)))


def summary(result: RunResult, *, show_commands: bool = False) -> str:
    lines = [f"{result.system} {result.profile} {result.rate:g} calls/s for "
             f"{result.seconds:g} s: {'OK' if result.ok else 'FAILED'}",
             "class       offered  ok      failed  retrans  setup p50/p99/max ms"]
    for c in result.classes:
        lines.append(f"{c.name:<11} {c.offered:<8} {c.successful:<7} {c.failed:<7} "
                     f"{c.retransmissions:<8} {c.setup_p50_ms:.1f}/{c.setup_p99_ms:.1f}/"
                     f"{c.setup_max_ms:.1f}")
    if result.psap is not None:
        lines.append(f"PSAP: {result.psap.valid}/{result.psap.invites} INVITEs valid; answered "
                     f"911s without a valid PIDF-LO at the PSAP: "
                     f"{result.emergency_without_location}"
                     + (f" ({'; '.join(result.psap.problems[:2])})" if result.psap.problems
                        else ""))
    if result.notify is not None:
        lines.append(result.notify.line())
    if result.warmup is not None:
        w = result.warmup
        lines.append(f"warm-up (not counted): {w.offered} ordinary calls at "
                     f"{result.rate * WARMUP_SHARE:g}/s, {w.failed} failed")
    if result.worker_decided:
        lines.append("decided by a worker (the rest by the front: its own decision or its route "
                     "cache): " + ", ".join(
            f"{c.name} {result.worker_decided.get(c.name, 0)}/{c.offered}"
            for c in result.classes))
    if result.trunk_counts:
        lines.append("calls at each trunk (received/expected): " + ", ".join(
            f"{t.trunk} {t.received}/{t.expected}" + ("" if t.ok else " WRONG")
            for t in result.trunk_counts))
    if result.seeding is not None:
        lines.append(result.seeding.line())
    if result.storm is not None:
        lines.append(result.storm.line())
    usage = result.usage
    lines.append("CPU (cores): " + ", ".join(f"{k} {v:.2f}" for k, v in
                                              sorted(usage.cpu_core_share.items())))
    lines.append("CPU ms per call (SIPp excluded): " + ", ".join(
        f"{k} {v:.3f}" for k, v in sorted(result.cpu_ms_per_call().items())))
    lines.append("RSS peak (MB): " + ", ".join(f"{k} {v:.0f}" for k, v in
                                                sorted(usage.rss_peak_mb.items())))
    lines.append(f"machine: {usage.machine_busy_share:.2f} of {os.cpu_count()} cores busy, "
                 f"{usage.others_core_share:.2f} by other processes; load average at start "
                 f"{usage.load_average}")
    if show_commands:
        lines.append("SIPp callers ($RUN: the run directory; $PORT: the system's SIP port):")
        lines += [f"  {command}" for command in result.commands]
    return "\n".join(lines)


def main(argv: Sequence[str]) -> int:
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(prog="scripts/load", description=(
        "Run one SIPp load profile on loopback against the router (Kamailio + workers) or a "
        "peer; bounded in rate, count and time. Exit 0 when every call ended as its class "
        "should (and every 911 at the PSAP carried a valid PIDF-LO), 1 otherwise. The "
        "compliance profile places each row of sipp-scenarios/load/compliance.csv once "
        "(at most rate x seconds rows) and checks each call against its row (trunk, PIDF-LO, "
        "callback number, answer), listing the rows that differ."))
    parser.add_argument("profile", choices=sorted([*PROFILES, COLD, "compliance"]), help=(
        "cold: the mixed profile with every caller new to the run (its users bulk-seeded, "
        "its CSVs written into the run directory by sipp-scenarios/load/cold_callers.py)"))
    parser.add_argument("--rate", type=float, default=20.0, help="calls a second (all classes)")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long calls start for")
    parser.add_argument("--hold-ms", type=int, default=1000, help="answered calls last this")
    parser.add_argument("--workers", type=int, default=2, help="E911_WORKERS for the router")
    parser.add_argument("--system", choices=("router", "kamailio-proxy", "sippy"),
                        default="router")
    parser.add_argument("--set", action="append", default=[], metavar="E911_NAME=VALUE",
                        help="extra router setting (repeatable)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep logs and statistics here (default: a temporary directory)")
    parser.add_argument("--warmup-seconds", type=float, default=0.0, help=(
        "before the measured run, located ordinary calls at a quarter of the rate for this "
        "long, not counted (steady state rather than a cold start; 0: none)"))
    parser.add_argument("--smtp", choices=("up", "down"), default="up", help=(
        "up: the router e-mails a local SMTP sink (aiosmtpd) and the summary counts the "
        "e-mails; down: E911_SMTP_URL names a port nothing listens on (a mail outage)"))
    parser.add_argument("--show-commands", action="store_true",
                        help="print the SIPp callers' command lines after the summary")
    parser.add_argument("--rebind-storm", type=int, default=0, metavar="USERS", help=(
        "while the calls flow, re-bind this many users (each bound to its own device IP, "
        "moved to another) through the store, one transaction each, and check that no call "
        "placed after the last commit used an old decision (StormResult in loadlib; 0: none)"))
    parser.add_argument("--storm-primed", type=int, default=1000, help=(
        "of the storm's users, how many (the last re-bound) call once from their old device "
        "IP before it (filling the front's cache with the old decision) and are probed from "
        "their old and new IPs right after it"))
    parser.add_argument("--storm-rate", type=float, default=100.0,
                        help="calls/s of the storm's priming and probing callers")
    parser.add_argument("--storm-after", type=float, default=2.0,
                        help="seconds into the run before the storm's priming starts")
    parser.add_argument("--storm-grace", type=float, default=0.0, help=(
        "seconds between the storm's last commit and its probes (0: at once, the strict "
        "check; more: how long the old decisions outlive a change)"))
    args = parser.parse_args(argv)
    extra = dict(item.split("=", 1) for item in args.set)
    storm = None
    if args.rebind_storm > 0:
        storm = StormSpec(args.rebind_storm, min(args.storm_primed, args.rebind_storm),
                          args.storm_rate, args.storm_after, args.storm_grace)
        try:
            check_bounds(args.storm_rate, max(1.0, 2 * storm.primed / args.storm_rate),
                         "127.0.0.1")
        except LoadError as exc:
            print(f"error: storm: {exc}", file=sys.stderr)
            return 2
    if args.profile == "compliance":
        return _compliance_main(args, extra)
    try:
        if args.workdir is not None:
            result = run_once(args.system, args.profile, rate=args.rate, seconds=args.seconds,
                              hold_ms=args.hold_ms, workers=args.workers,
                              workdir=args.workdir.resolve(), extra_env=extra, smtp=args.smtp,
                              warmup_seconds=args.warmup_seconds, storm=storm)
        else:
            with tempfile.TemporaryDirectory(prefix="e911-load-") as tmp:
                result = run_once(args.system, args.profile, rate=args.rate,
                                  seconds=args.seconds, hold_ms=args.hold_ms,
                                  workers=args.workers, workdir=Path(tmp), extra_env=extra,
                                  smtp=args.smtp, warmup_seconds=args.warmup_seconds,
                                  storm=storm)
    except LoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(summary(result, show_commands=args.show_commands))
    return 0 if result.ok else 1


def _compliance_main(args: Any, extra: dict[str, str]) -> int:
    import tempfile

    if args.system != "router":
        print("error: the compliance run checks the router's answers (location, callback): "
              "--system router only", file=sys.stderr)
        return 2
    try:
        if args.workdir is not None:
            result = run_compliance(rate=args.rate, seconds=args.seconds, hold_ms=args.hold_ms,
                                    workers=args.workers, workdir=args.workdir.resolve(),
                                    extra_env=extra)
        else:
            with tempfile.TemporaryDirectory(prefix="e911-compliance-") as tmp:
                result = run_compliance(rate=args.rate, seconds=args.seconds,
                                        hold_ms=args.hold_ms, workers=args.workers,
                                        workdir=Path(tmp), extra_env=extra)
    except LoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(compliance_summary(result))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
