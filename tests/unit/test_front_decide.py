"""Front decisions (issue 19): the decision Kamailio runs in-process is the workers' own
(parse_invite -> CallRouter), acted on only for a located ordinary call and an invalid number,
always from a view brought up to the store's last change; the app_python3 glue and the
rendered config."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from router.call.decide import CallRouter
from router.call.inbound import parse_invite
from router.kamailio.front import front_config
from router.kamailio.front_decide import DecisionKind, FrontDecider, open_front_decider
from router.kamailio.kemi import FrontKemi
from router.kamailio.render import FRONT_DECIDE_BOOT_FILE, check, render, write
from router.location.model import DEFAULT_ACCOUNT_ID
from router.location.view import LocationView
from router.settings import Settings, load_settings
from router.store.store import open_store
from tests.support.seeded_store import LOCATED_USER, UNLOCATED_USER, seed_store

OUTBOUND = "sip:127.0.0.1:5073"
NUMBER = "4065550123"


def _invite(dialled: str, user: str = LOCATED_USER, *, extra: str = "") -> str:
    return (f"INVITE sip:{dialled}@127.0.0.1:5060 SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-1\r\n"
            f"From: <sip:{user}@127.0.0.1>;tag=a\r\n"
            f"To: <sip:{dialled}@127.0.0.1>\r\n"
            "Call-ID: fd-1@127.0.0.1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
            f"{extra}Content-Length: 0\r\n\r\n")


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'e911.db'}"
    seed_store(url)
    return url


def _settings(url: str, **extra: str) -> Settings:
    return load_settings({"E911_DATABASE_URL": url, "E911_TRUNK_OUTBOUND": OUTBOUND,
                          "E911_PBX_PEERS": "10.9.0.0/16", **extra})


def test_a_located_ordinary_call_goes_to_the_plans_route(url: str) -> None:
    decider = open_front_decider(_settings(url))
    decision = decider.decide(_invite(NUMBER), "127.0.0.1:5999", "127.0.0.1")
    assert decision.kind is DecisionKind.RELAY
    assert decision.target == "sip:+14065550123@127.0.0.1:5073"


def test_an_invalid_number_gets_the_workers_404(url: str) -> None:
    decision = open_front_decider(_settings(url)).decide(_invite("abc"), "127.0.0.1:5999",
                                                         "127.0.0.1")
    assert (decision.kind, decision.status, decision.reason, decision.reason_header) == (
        DecisionKind.REPLY, 404, "Not a dialable number",
        'SIP;cause=404;text="Not a dialable number"')


@pytest.mark.parametrize(("dialled", "user", "why"), [
    (NUMBER, UNLOCATED_USER, "unlocated"),
    ("911", LOCATED_USER, "emergency"),
    ("933", LOCATED_USER, "emergency"),
])
def test_everything_else_goes_to_a_worker_with_the_change_it_saw(
    url: str, dialled: str, user: str, why: str
) -> None:
    decision = open_front_decider(_settings(url)).decide(_invite(dialled, user),
                                                         "127.0.0.1:5999", "127.0.0.1")
    store = open_store(url, migrate=False)
    try:
        assert (decision.kind, decision.why, decision.view_seq) == (
            DecisionKind.WORKER, why, store.change_seq())
    finally:
        store.close()


def test_bridge_mode_and_a_device_the_front_would_not_send_go_to_a_worker(url: str) -> None:
    bridge = open_front_decider(_settings(url, E911_NORMAL_CALL_MODE="bridge"))
    assert bridge.decide(_invite(NUMBER), "127.0.0.1:5999", "127.0.0.1").why == "bridge"
    decider = open_front_decider(_settings(url))
    assert decider.decide(_invite(NUMBER), "127.0.0.1:5999", "10.0.0.1").why == "device"
    assert decider.decide("OPTIONS sip:x SIP/2.0\r\n\r\n", "127.0.0.1:5999",
                          "127.0.0.1").why == "parse"


def test_a_binding_change_is_seen_by_the_very_next_call(url: str) -> None:
    """Read-your-writes: no poller, no wait; each decision after a committed change uses it."""
    decider = open_front_decider(_settings(url))
    store = open_store(url, migrate=False)
    try:
        (binding,) = store.bindings_for_user(DEFAULT_ACCOUNT_ID, LOCATED_USER)
        for _ in range(10):
            assert store.clear_binding(DEFAULT_ACCOUNT_ID, LOCATED_USER, binding.address_id)
            decision = decider.decide(_invite(NUMBER), "127.0.0.1:5999", "127.0.0.1")
            assert (decision.kind, decision.why) == (DecisionKind.WORKER, "unlocated")
            store.bind(DEFAULT_ACCOUNT_ID, LOCATED_USER, binding.address_id, "127.0.0.1")
            decision = decider.decide(_invite(NUMBER), "127.0.0.1:5999", "127.0.0.1")
            assert decision.kind is DecisionKind.RELAY
            # Moved to another network: the old one no longer locates.
            store.bind(DEFAULT_ACCOUNT_ID, LOCATED_USER, binding.address_id, "192.0.2.7")
            decision = decider.decide(_invite(NUMBER), "127.0.0.1:5999", "127.0.0.1")
            assert decision.why == "unlocated"
            store.bind(DEFAULT_ACCOUNT_ID, LOCATED_USER, binding.address_id, "127.0.0.1")
    finally:
        store.close()


class _DownView:
    seq = 3

    def refresh(self) -> bool:
        raise OSError("store down")


def test_a_view_that_cannot_be_brought_up_to_date_decides_nothing(url: str) -> None:
    settings = _settings(url)
    store = open_store(url, migrate=False)
    try:
        view = LocationView(store)
        view.refresh()
        router = CallRouter(settings.dialplan_config(), view, settings.routing_policy())
        decider = FrontDecider(router, _DownView(), pbx_peers=(), device_ip_header="")
        decision = decider.decide(_invite(NUMBER), "127.0.0.1:5999", "127.0.0.1")
        assert (decision.kind, decision.why) == (DecisionKind.WORKER, "store")
    finally:
        store.close()


def test_the_worker_catches_up_to_the_change_the_front_saw(url: str) -> None:
    """X-E911-View-Seq from the front (a PBX peer for the worker): the worker's router brings
    its view to that change_seq before locating; from anyone else the header is ignored."""
    seen = "X-E911-View-Seq: 41\r\n"
    front = parse_invite(_invite(NUMBER, extra=seen), "127.0.0.1:5999",
                         pbx_peers=_settings(url, E911_PBX_PEERS="127.0.0.1/32").pbx_peers,
                         device_ip_header="X-E911-Device-IP")
    other = parse_invite(_invite(NUMBER, extra=seen), "127.0.0.1:5999")
    assert (front.view_seq, other.view_seq) == (41, None)
    caught: list[int] = []
    settings = _settings(url)
    store = open_store(url, migrate=False)
    try:
        view = LocationView(store)
        router = CallRouter(settings.dialplan_config(), view, settings.routing_policy(),
                            catch_up=caught.append)
        router.route(front)
        router.route(other)
        assert caught == [41]
        # A 911 or 933 never waits for a catch-up (it may read the store on the SIP thread).
        router.route(replace(front, request_uri="sip:911@127.0.0.1"))
        router.route(replace(front, request_uri="sip:933@127.0.0.1"))
        assert caught == [41]
        # The real one loads the store when behind, and is a no-op when not.
        view.catch_up(store.change_seq())
        assert view.seq == store.change_seq()
        assert view.refresh() is False
        assert router.route(replace(front, view_seq=0)) is not None
    finally:
        store.close()


class _Pv:
    def __init__(self, values: dict[str, str]) -> None:
        self.values: dict[str, Any] = dict(values)

    def get(self, name: str) -> Any:
        return self.values.get(name)

    def sets(self, name: str, value: str) -> None:
        self.values[name] = value

    def seti(self, name: str, value: int) -> None:
        self.values[name] = value


class _Ksr:
    def __init__(self, values: dict[str, str]) -> None:
        self.pv = _Pv(values)
        self.warnings: list[str] = []

    def warn(self, text: str) -> None:
        self.warnings.append(text)


def test_the_app_python3_object_answers_in_pseudo_variables(
    url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("E911_ENV_FILE", str(tmp_path / "empty.env"))
    (tmp_path / "empty.env").write_text("")
    monkeypatch.setenv("E911_DATABASE_URL", url)
    monkeypatch.setenv("E911_TRUNK_OUTBOUND", OUTBOUND)
    ksr = _Ksr({"$mb": _invite(NUMBER), "$si": "127.0.0.1", "$sp": "5999",
                "$avp(device)": "127.0.0.1"})
    kemi = FrontKemi(ksr)
    assert kemi.child_init(1) == 0
    assert kemi.decide(None) == 1
    assert (ksr.pv.values["$var(fd)"], ksr.pv.values["$var(fd_target)"]) == (
        "relay", "sip:+14065550123@127.0.0.1:5073")
    ksr.pv.values["$mb"] = _invite("abc")
    assert kemi.decide(None) == 1
    assert (ksr.pv.values["$var(fd)"], ksr.pv.values["$var(fd_status)"]) == ("reply", 404)
    ksr.pv.values["$mb"] = _invite(NUMBER, UNLOCATED_USER)
    assert kemi.decide(None) == 1
    assert ksr.pv.values["$var(fd)"] == "worker"
    assert ksr.pv.values["$avp(view_seq)"].isdigit()


def test_no_store_means_every_call_to_a_worker(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "empty.env").write_text("")
    monkeypatch.setenv("E911_ENV_FILE", str(tmp_path / "empty.env"))
    monkeypatch.setenv("E911_DATABASE_URL", "postgresql://nobody@127.0.0.1:9/none")
    ksr = _Ksr({"$mb": _invite(NUMBER), "$si": "127.0.0.1", "$sp": "5999",
                "$avp(device)": "127.0.0.1"})
    kemi = FrontKemi(ksr)
    assert kemi.decide(None) == 1
    assert ksr.pv.values["$var(fd)"] == "worker"
    assert len(ksr.warnings) == 1
    assert kemi.decide(None) == 1  # not retried at once: one warning per RETRY_SECONDS
    assert len(ksr.warnings) == 1


def test_the_config_loads_app_python3_only_for_python_decisions(tmp_path: Path) -> None:
    on = front_config(load_settings({"E911_FRONT_DECISIONS": "python"}), tmp_path / "on")
    off = front_config(load_settings({}), tmp_path / "off")
    rendered_on, rendered_off = render(on), render(off)
    assert 'loadmodule "app_python3.so"' in rendered_on.cfg
    assert "#!define E911_FRONT_DECISIONS" in rendered_on.cfg
    assert "#!define E911_FRONT_DECISIONS" not in rendered_off.cfg
    assert rendered_off.front_decide_boot == ""
    assert "from router.kamailio import kemi" in rendered_on.front_decide_boot
    compile(rendered_on.front_decide_boot, FRONT_DECIDE_BOOT_FILE, "exec")
    write(on, rendered_on)
    write(off, rendered_off)
    assert (on.run_dir / FRONT_DECIDE_BOOT_FILE).is_file()
    assert not (off.run_dir / FRONT_DECIDE_BOOT_FILE).exists()


def test_the_boot_script_imports_the_router_in_a_fresh_interpreter(tmp_path: Path) -> None:
    """What app_python3 does in Kamailio's main process, minus Kamailio: the system's
    python3.11 (the libpython Kamailio embeds), the boot script's sys.path, mod_init."""
    front = front_config(load_settings({"E911_FRONT_DECISIONS": "python"}), tmp_path)
    write(front, render(front))
    boot = tmp_path / FRONT_DECIDE_BOOT_FILE
    code = (f"exec(open({str(boot)!r}).read()); import sys, types; "
            "sys.modules['KSR'] = types.ModuleType('KSR'); "
            "obj = mod_init(); print(type(obj).__name__)")
    out = subprocess.run(["/usr/bin/python3.11", "-I", "-c", code], capture_output=True,
                         text=True, timeout=60, check=False)
    assert out.stdout.strip() == "FrontKemi", out.stderr
    assert f"WORKDIR = {str(Path.cwd())!r}" in boot.read_text()


def test_postgresql_from_kamailio_gets_short_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    """A store that does not answer costs a Kamailio receiver about a second, not the engine's
    5 s connect timeout (nor minutes of TCP retries)."""
    import router.store.store as store_module

    seen: list[str] = []

    def fake_open(url: str, **_kwargs: object) -> object:
        seen.append(url)
        raise OSError("not here")

    monkeypatch.setattr(store_module, "open_store", fake_open)
    with pytest.raises(OSError):
        open_front_decider(_settings("postgresql://e911@127.0.0.1:5432/e911?connect_timeout=3"))
    assert "connect_timeout=3" in seen[0] and "tcp_user_timeout=1000" in seen[0]


def test_a_missing_sqlite_store_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "none.db"
    with pytest.raises(FileNotFoundError):
        open_front_decider(_settings(f"sqlite:///{missing}"))
    assert not missing.exists()


@pytest.mark.skipif(subprocess.run(["sh", "-c", "command -v kamailio"], capture_output=True,
                                   check=False).returncode != 0, reason="no kamailio")
def test_kamailio_accepts_both_configs(tmp_path: Path) -> None:
    for name, value in (("on", "python"), ("off", "workers")):
        front = front_config(load_settings({"E911_FRONT_DECISIONS": value}), tmp_path / name)
        write(front, render(front))
        result = check("kamailio", front.cfg_path)
        assert result.ok, result.output


class _FlakyReader:
    opened = 0

    def __init__(self, values: list[int | Exception]) -> None:
        _FlakyReader.opened += 1
        self.values = values
        self.closed = False

    def __call__(self) -> int:
        value = self.values.pop(0)
        if isinstance(value, Exception):
            raise value
        return value

    def close(self) -> None:
        self.closed = True


class _CountingView:
    def __init__(self) -> None:
        self.seq: int | None = 7
        self.refreshes = 0

    def refresh(self) -> bool:
        self.refreshes += 1
        self.seq = 8
        return True


def test_the_cheap_probe_refreshes_only_on_a_change_and_reopens_after_an_error(url: str) -> None:
    settings = _settings(url)
    store = open_store(url, migrate=False)
    try:
        real = LocationView(store)
        real.refresh()
        router = CallRouter(settings.dialplan_config(), real, settings.routing_policy())
        values: list[int | Exception] = [7, 7, 8, OSError("gone"), 8]
        readers: list[_FlakyReader] = []

        def open_reader() -> _FlakyReader:
            readers.append(_FlakyReader(values))
            return readers[-1]

        view = _CountingView()
        now = [100.0]
        decider = FrontDecider(router, view, pbx_peers=(), device_ip_header="",
                               seq_reader=open_reader, clock=lambda: now[0])

        def why() -> str:
            return decider.decide(_invite(NUMBER), "127.0.0.1:5999", "127.0.0.1").why

        assert [why(), why(), why(), why()] == ["", "", "", "store"]
        # Not asked again for STORE_RETRY_SECONDS: the worker path, no new connection.
        now[0] += 0.5
        assert (why(), len(readers)) == ("store", 1)
        now[0] += 1.0
        assert why() == ""
        assert view.refreshes == 1  # only when 8 != 7
        assert len(readers) == 2 and readers[0].closed
    finally:
        store.close()
