"""The front's announcer (issue 16), pure parts: settings, rtpengine's config, the rendered
Kamailio sections, the counters on /metrics and in `status`."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from router.call.front_announce import front_announce_headers
from router.commands.status import _announce_lines
from router.kamailio.announce import announce_front, announce_values
from router.kamailio.front import front_config
from router.kamailio.render import render
from router.kamailio.rtpengine import _bencoded_strings, render_conf, rtpengine_config
from router.kamailio.stats import front_metrics
from router.settings import load_settings
from router.settings_parsers import SettingsError

ROOT = Path(__file__).resolve().parents[2]
PROMPTS = str(ROOT / "config" / "prompts")


def test_announce_path_defaults_to_the_worker_and_front_needs_kamailio_and_early_mode() -> None:
    """Default `worker`; `front` is in force only with a Kamailio front in early-media mode."""
    assert not announce_front(load_settings({})).on
    assert announce_front(load_settings({"E911_ANNOUNCE_PATH": "front",
                                         "E911_PROMPTS_DIR": PROMPTS})).on
    assert not announce_front(load_settings({"E911_ANNOUNCE_PATH": "front",
                                             "E911_FRONT": "none"})).on
    assert not announce_front(load_settings({"E911_ANNOUNCE_PATH": "front",
                                             "E911_ANNOUNCE_MODE": "answer"})).on


@pytest.mark.parametrize(("name", "value"), [
    ("E911_RTPENGINE_NG", "10.0.0.1:2223"),
    ("E911_RTPENGINE_NG", "0.0.0.0:2223"),
    ("E911_RTPENGINE_PORTS", "40000-30000"),
    ("E911_RTPENGINE_PORTS", "80-90"),
    ("E911_RTPENGINE_PORTS", "30000"),
    ("E911_ANNOUNCE_MAX", "0"),
])
def test_bad_announcer_settings_are_refused_naming_the_variable(name: str, value: str) -> None:
    """The ng port is loopback only (the protocol has no authentication); ranges are sane."""
    with pytest.raises(SettingsError, match=name):
        load_settings({name: value})


def test_rtpengine_config_is_rendered_from_the_settings() -> None:
    """Userspace only, every socket on the ng address, the port range, a session cap above
    E911_ANNOUNCE_MAX, sessions freed at once and bounded in time."""
    settings = load_settings({"E911_RTPENGINE_NG": "127.0.0.1:42000",
                              "E911_RTPENGINE_PORTS": "41000-41999", "E911_ANNOUNCE_MAX": "50"})
    conf = render_conf(rtpengine_config(settings, Path("/tmp/x")))
    for line in ("[rtpengine]", "table = -1", "interface = 127.0.0.1",
                 "listen-ng = 127.0.0.1:42000", "listen-cli = 127.0.0.1:42001",
                 "port-min = 41000", "port-max = 41999", "max-sessions = 66",
                 "delete-delay = 0", "final-timeout = 120"):
        assert line in conf.splitlines()


def test_kamailio_config_loads_the_announcer_only_for_the_front_path(tmp_path: Path) -> None:
    """`worker`: no rtpengine module, and a stray announce 302 gets 403 + Reason at once;
    `front`: rtpengine on the ng socket, the cap, the languages with a prompt on disk."""
    worker = render(front_config(load_settings({}), tmp_path)).cfg
    assert "rtpengine.so" not in worker
    assert "route[ANNOUNCE]" in worker and "route(ANNOUNCE)" in worker
    assert 'text=\\"Emergency address not registered\\"' in worker
    front = render(front_config(load_settings({
        "E911_ANNOUNCE_PATH": "front", "E911_PROMPTS_DIR": PROMPTS,
        "E911_RTPENGINE_NG": "127.0.0.1:42000", "E911_ANNOUNCE_MAX": "77"}), tmp_path)).cfg
    assert 'modparam("rtpengine", "rtpengine_sock", "udp:127.0.0.1:42000")' in front
    assert "if ($var(active) > 77) {" in front
    assert '"^(en|es|fr)$"' in front
    assert f"file={PROMPTS}/" in front
    assert "[[max]]" not in front and "[[prompts_dir]]" not in front


def test_prompt_dir_with_a_quote_cannot_reach_the_config() -> None:
    """A path Kamailio would misread is refused, not written."""
    announce = announce_front(load_settings({"E911_ANNOUNCE_PATH": "front",
                                             "E911_PROMPTS_DIR": PROMPTS}))
    with pytest.raises(ValueError, match="cannot be written"):
        announce_values(type(announce)(on=True, ng_socket="udp:127.0.0.1:1", max_concurrent=1,
                                       prompts_dir=Path('/tmp/a"b'), languages=("en",)))


def test_worker_302_names_only_the_language() -> None:
    """The worker's whole answer: a Contact nobody can follow and the prompt's language."""
    assert front_announce_headers("es") == (
        ("Contact", "<sip:announce@e911-router.invalid>"), ("X-E911-Announce", "es"))


def test_announcement_counters_and_playing_gauge_on_metrics() -> None:
    """Kamailio's announce_* statistics become e911_front_announcements_total{result} and the
    playing gauge (started - completed - cancelled); absent when the announcer is off."""
    stats = {"announce_started": 10, "announce_completed": 6, "announce_cancelled": 1,
             "announce_capped": 3, "announce_fallback": 2}
    families = {f.name: f for f in front_metrics(stats)}
    samples = {s.labels["result"]: s.value
               for s in families["e911_front_announcements"].samples}
    assert samples == {"started": 10, "completed": 6, "cancelled": 1, "capped": 3,
                       "fallback": 2}
    assert families["e911_front_announcements_playing"].samples[0].value == 3
    assert "e911_front_announcements" not in {f.name for f in
                                              front_metrics({"route_cache_hit": 1})}


def test_status_shows_the_announcements() -> None:
    """`e911-router status` prints the counters and what plays now; nothing when off."""
    lines = _announce_lines({"started": 5, "completed": 3, "cancelled": 1, "capped": 2,
                             "fallback": 0, "playing": 1})
    assert lines[1] == "ANNOUNCEMENTS (front, since Kamailio started; playing now 1)"
    assert lines[2] == "  started 5  completed 3  cancelled 1  capped 2  fallback 0"
    assert _announce_lines({}) == []


def test_ng_list_reply_call_ids_are_counted() -> None:
    """rtpengine's `list` reply: a bencoded list of Call-IDs."""
    assert _bencoded_strings(b"l3:abc10:0123456789e6:result2:oke") == [b"abc", b"0123456789"]
    assert _bencoded_strings(b"le") == []


def test_rtpengine_media_uses_the_sip_address_callers_reach() -> None:
    """The prompt's RTP (and the 183's SDP) use E911_SIP_LISTEN's address; a wildcard listen
    address falls back to the ng address (rtpengine needs a concrete one)."""
    def interface(listen: str) -> str:
        conf = render_conf(rtpengine_config(load_settings({"E911_SIP_LISTEN": listen}),
                                            Path("/tmp/x")))
        return next(line for line in conf.splitlines() if line.startswith("interface = "))

    assert interface("127.0.0.5:5060") == "interface = 127.0.0.5"
    assert interface("0.0.0.0:5060") == "interface = 127.0.0.1"


def test_run_refuses_front_announcements_without_rtpengine_naming_the_setting() -> None:
    """E911_ANNOUNCE_PATH=front with no rtpengine executable: one line naming the variable."""
    from router.commands.run import announcer_child

    settings = load_settings({"E911_ANNOUNCE_PATH": "front",
                              "E911_RTPENGINE_BINARY": "/nonexistent/rtpengine"})
    with pytest.raises(SettingsError, match="E911_RTPENGINE_BINARY"):
        announcer_child(settings)


def test_a_taken_rtpengine_ng_port_is_named(tmp_path: Path) -> None:
    """The ng port is checked before anything starts (PortTaken names the setting)."""
    import socket

    from router.commands.run import announcer_child
    from router.supervisor import PortTaken

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        port = squatter.getsockname()[1]
        settings = load_settings({"E911_ANNOUNCE_PATH": "front",
                                  "E911_RTPENGINE_NG": f"127.0.0.1:{port}",
                                  "E911_KAMAILIO_RUN_DIR": str(tmp_path)})
        with pytest.raises(PortTaken, match="E911_RTPENGINE_NG"):
            announcer_child(settings)


def test_the_front_starts_only_once_a_service_reports_ready() -> None:
    """A child with a `ready` probe (rtpengine: an ng ping) holds back the front (Kamailio)
    until the probe says yes."""
    import threading

    from router.supervisor import ChildKind, ChildSpec, Supervisor

    ready = threading.Event()
    supervisor = Supervisor([
        ChildSpec("rtpengine", ("sleep", "30"), ChildKind.SERVICE, ready=ready.is_set),
        ChildSpec("kamailio", ("sleep", "30"), ChildKind.FRONT),
    ], install_signals=False, drain_seconds=2)
    runner = threading.Thread(target=supervisor.run)
    runner.start()
    try:
        deadline = time.monotonic() + 5
        while supervisor.pid_of("rtpengine") is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert supervisor.pid_of("rtpengine") is not None
        time.sleep(0.5)  # the supervisor polls every 0.1 s: the front must still be waiting
        assert supervisor.pid_of("kamailio") is None
        ready.set()
        deadline = time.monotonic() + 5
        while supervisor.pid_of("kamailio") is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert supervisor.pid_of("kamailio") is not None
    finally:
        supervisor.request_stop()
        runner.join(15)
