"""The recorder: non-blocking submit, 933 filtering, spooling while the store is down and the
import once it is back; the routing hook built from a real store's in-memory view."""

from __future__ import annotations

import contextlib
import os
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from router.location import schema
from router.location.civic import CivicAddress
from router.location.model import (
    DEFAULT_ACCOUNT_ID,
    Callback,
    CallbackPreference,
    ValidatedAddress,
)
from router.location.store import Store, make_engine, open_store
from router.location.view import LocationView
from router.notify.model import EmergencyCallNotice
from router.notify.outbox import Outbox
from router.notify.recorder import NotificationRecorder
from router.notify.spool import Spool
from router.plan import RoutingPolicy
from router.settings import load_settings
from router.sip.inbound import parse_invite
from router.sip.route import CallRouter, Routed
from tests.notify.support import (
    SmtpServer,
    free_port,
    make_sender,
    notice,
    run_until,
    with_contacts,
)
from tests.store.conftest import validated


class _Engine:
    """A StoreLike over a given engine (the recorder's view of a store that may be down)."""

    def __init__(self, engine: sa.Engine, dialect: str) -> None:
        self.engine = engine
        self.dialect = dialect


class TcpProxy:
    """A loopback TCP forwarder we can take down (refuse and cut every connection) and up."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    def up(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            # shutdown() wakes the thread blocked in accept(); close() alone would not.
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            with self._lock:
                self._conns += [client, server]
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()

    @staticmethod
    def _pump(a: socket.socket, b: socket.socket) -> None:
        try:
            while True:
                ready, _, _ = select.select([a, b], [], [], 1.0)
                for src in ready:
                    data = src.recv(65536)
                    if not data:
                        return
                    (b if src is a else a).sendall(data)
        except OSError:
            return
        finally:
            a.close()
            b.close()


@pytest.fixture
def flaky(store_url: str, tmp_path: Path) -> Iterator[tuple[_Engine, Callable[[], None],
                                                            Callable[[], None]]]:
    """(store-like whose database can be taken away, down(), up()) on each engine."""
    if store_url.startswith("sqlite"):
        # Down: the database's directory is gone (SQLite cannot open the file). Up: the store
        # is created there again, migrated, with the same contacts.
        url = f"sqlite:///{tmp_path}/flaky/e911.db"
        engine = make_engine(url)

        def down() -> None:
            engine.dispose()
            for f in (tmp_path / "flaky").glob("*"):
                f.unlink()
            (tmp_path / "flaky").rmdir()

        def up() -> None:
            with_contacts(open_store(url), ("ops@example.com",)).close()

        up()
        yield _Engine(engine, "sqlite"), down, up
        engine.dispose()
        return
    proxy = TcpProxy(("127.0.0.1", 5432))
    proxy.up()
    url = store_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    with_contacts(open_store(url), ("ops@example.com",)).close()
    engine = make_engine(url)

    def pg_down() -> None:
        proxy.down()

    yield _Engine(engine, "postgresql"), pg_down, proxy.up
    engine.dispose()
    proxy.down()


def test_store_down_spools_the_notice_and_imports_and_delivers_it_later(
    flaky: tuple[_Engine, Callable[[], None], Callable[[], None]], tmp_path: Path,
    smtp_server: SmtpServer,
) -> None:
    """Store unreachable: one JSON file in the spool; store back: imported, then e-mailed."""
    target, down, up = flaky
    outbox = Outbox(target)
    spool = Spool(tmp_path / "spool")
    recorder = NotificationRecorder(outbox, spool, import_interval_seconds=0.1)
    recorder.start()
    try:
        down()
        call = notice()
        recorder.submit(call)
        assert recorder.flush(30)
        (spooled,) = spool.paths()
        assert spooled.name == f"{call.call_ref}.json"
        assert EmergencyCallNotice.from_json(spooled.read_text()) == call
        assert [p.name for p in spooled.parent.iterdir()] == [spooled.name]  # no temp left

        up()
        deadline = time.monotonic() + 30
        while spool.paths():
            assert time.monotonic() < deadline, "the spooled notice was never imported"
            time.sleep(0.05)
    finally:
        recorder.stop()
    stored = outbox.get_call(call.call_ref)
    assert stored is not None
    assert stored.via_spool is True
    assert stored.notice == call
    sender = make_sender(target, smtp_server.url)  # type: ignore[arg-type]
    run_until(sender, lambda: len(smtp_server.handler.received) == 1)
    assert smtp_server.handler.received[0].message["X-E911-Call-Ref"] == call.call_ref


def test_submit_never_blocks_or_raises_while_the_store_is_down(
    flaky: tuple[_Engine, Callable[[], None], Callable[[], None]], tmp_path: Path,
) -> None:
    """1,000 submits with the database gone take well under a millisecond each."""
    target, down, _ = flaky
    recorder = NotificationRecorder(Outbox(target), Spool(tmp_path / "spool"))
    recorder.start()
    down()
    calls = [notice() for _ in range(1000)]
    started = time.perf_counter()
    for call in calls:
        recorder.submit(call)
    elapsed = time.perf_counter() - started
    assert elapsed < 0.1, f"1000 submits took {elapsed * 1000:.1f} ms"
    assert recorder.flush(120)
    recorder.stop()
    assert len(Spool(tmp_path / "spool")) == 1000


def test_stop_writes_everything_queued(store: Store, tmp_path: Path) -> None:
    """Notices queued before stop() are in the store after it."""
    outbox = Outbox(store)
    recorder = NotificationRecorder(outbox, Spool(tmp_path / "spool"))
    calls = [notice() for _ in range(20)]
    for call in calls:
        recorder.submit(call)  # not started yet: only queued
    recorder.start()
    recorder.stop()
    assert all(outbox.get_call(c.call_ref) is not None for c in calls)


def test_unreadable_spool_file_is_set_aside(store: Store, tmp_path: Path) -> None:
    """A spool file that does not parse becomes .bad; the good one is imported."""
    spool = Spool(tmp_path / "spool")
    good = notice()
    spool.write(good)
    (tmp_path / "spool" / "broken.json").write_text("{not json")
    recorder = NotificationRecorder(Outbox(store), spool)
    assert recorder.import_spool() == 1
    assert sorted(p.name for p in (tmp_path / "spool").iterdir()) == ["broken.bad"]
    assert Outbox(store).get_call(good.call_ref) is not None


# -- the routing hook -----------------------------------------------------------------------

OFFICE = CivicAddress(
    country="US", state="MT", city="WHITE SULPHUR SPRINGS", street_name="LARAMIE",
    house_number="105", prefix_directional="E", street_suffix="ST", postal_code="59645",
    county="MEAGHER", unit="STE 4",
)


def _invite(dialed: str, user: str) -> str:
    return (
        f"INVITE sip:{dialed}@127.0.0.1 SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK1\r\n"
        f"From: \"Desk {user}\" <sip:{user}@127.0.0.1>;tag=a\r\n"
        f"To: <sip:{dialed}@127.0.0.1>\r\n"
        f"Call-ID: {user}-{dialed}@pbx\r\n"
        "CSeq: 1 INVITE\r\n"
        "Content-Length: 0\r\n\r\n"
    )


@pytest.fixture
def routed_by(store: Store) -> Iterator[Callable[[str, str], Routed]]:
    """Route INVITEs as a worker does: dial plan, the store's in-memory view, plan_call."""
    store.set_contacts(DEFAULT_ACCOUNT_ID, ["ops@example.com"])
    store.update_account(DEFAULT_ACCOUNT_ID, default_address=validated(),
                         callback=Callback("Acme Dispatch", "+14065550100", "en"), language="fr")
    store.update_account(DEFAULT_ACCOUNT_ID, enabled=True)
    store.upsert_user(DEFAULT_ACCOUNT_ID, "1001", display_name="Ada Lovelace",
                      callback_number="+14065551001", callback_preference=CallbackPreference.OWN)
    saved = store.add_address(DEFAULT_ACCOUNT_ID, "1001",
                              ValidatedAddress(OFFICE, "MSAG-1", "101"), label="office")
    store.bind(DEFAULT_ACCOUNT_ID, "1001", saved.id, "127.0.0.1")
    store.upsert_user(DEFAULT_ACCOUNT_ID, "2002", display_name="Grace Hopper")
    view = LocationView(store)
    view.refresh()
    settings = load_settings({"E911_TRUNK_PSAP": "sip:127.0.0.1:9",
                              "E911_TRUNK_SORTING_CENTER": "sip:127.0.0.1:9"})
    router = CallRouter(settings.dialplan_config(), view, RoutingPolicy.from_settings(settings))

    def route(dialed: str, user: str) -> Routed:
        result = router.route(parse_invite(_invite(dialed, user), "127.0.0.1:5062"))
        assert isinstance(result, Routed)
        return result

    yield route


def _recorded(store: Store, recorder: NotificationRecorder) -> list[Any]:
    assert recorder.flush(10)
    n = schema.notifications
    with store.engine.connect() as conn:
        return list(conn.execute(
            sa.select(n.c.call_ref, n.c.test_call, n.c.address_lines, n.c.caller_display_name,
                      n.c.callback_number, n.c.language, n.c.sip_user, n.c.dialed)
            .order_by(n.c.invite_at)).all())


def test_911_from_a_located_caller_records_the_address_sent_to_the_psap(
    store: Store, routed_by: Callable[[str, str], Routed], tmp_path: Path
) -> None:
    """The notice says what the PSAP got: the bound address, the user's callback number."""
    recorder = NotificationRecorder(Outbox(store), Spool(tmp_path / "spool"))
    recorder.start()
    recorder.observe_route(routed_by("911", "1001"))
    ((ref, test_call, lines, name, number, language, user, dialed),) = _recorded(store, recorder)
    recorder.stop()
    assert (test_call, name, number, language, user, dialed) == (
        False, "Ada Lovelace", "+14065551001", "fr", "1001", "911")
    assert lines == [
        "105 E LARAMIE ST", "STE 4", "WHITE SULPHUR SPRINGS MT 59645"]
    call = Outbox(store).get_call(ref)
    assert call is not None and [d.recipient for d in call.deliveries] == ["ops@example.com"]


def test_911_from_an_unlocated_caller_records_no_address(
    store: Store, routed_by: Callable[[str, str], Routed], tmp_path: Path
) -> None:
    """No location: the notice has no address (the e-mail then names the sorting center)."""
    recorder = NotificationRecorder(Outbox(store), Spool(tmp_path / "spool"))
    recorder.start()
    recorder.observe_route(routed_by("911", "2002"))
    ((_, _, lines, name, number, *_),) = _recorded(store, recorder)
    recorder.stop()
    assert (lines, name, number) == (None, "Grace Hopper", "+14065550100")


def test_933_records_nothing_by_default_and_normal_calls_never(
    store: Store, routed_by: Callable[[str, str], Routed], tmp_path: Path
) -> None:
    """Only the 911 of the three calls is recorded when test-call notices are off."""
    recorder = NotificationRecorder(Outbox(store), Spool(tmp_path / "spool"))
    recorder.start()
    for dialed in ("933", "14065550199", "911"):
        recorder.observe_route(routed_by(dialed, "1001"))
    rows = _recorded(store, recorder)
    recorder.stop()
    assert [(r.dialed, r.test_call) for r in rows] == [("911", False)]


def test_933_is_recorded_and_labelled_as_a_test_when_enabled(
    store: Store, routed_by: Callable[[str, str], Routed], tmp_path: Path,
    smtp_server: SmtpServer,
) -> None:
    """E911_NOTIFY_ON_TEST_CALLS on: the 933 is e-mailed with a TEST subject and header."""
    recorder = NotificationRecorder(Outbox(store), Spool(tmp_path / "spool"),
                                    notify_on_test_calls=True)
    recorder.start()
    recorder.observe_route(routed_by("933", "1001"))
    ((_, test_call, *_),) = _recorded(store, recorder)
    recorder.stop()
    assert test_call is True
    make_sender(store, smtp_server.url).run_once()
    (received,) = smtp_server.handler.wait_for(1)
    message = received.message
    assert message["Subject"] == "TEST : appel au 933 passé par Ada Lovelace"
    assert message["X-E911-Test-Call"] == "yes"
    assert "Ceci est un TEST" in received.text()


def test_the_hook_survives_anything_and_never_raises(tmp_path: Path) -> None:
    """A routed object the hook cannot read costs the notice, never the call."""
    recorder = NotificationRecorder(Outbox(_Engine(sa.create_engine("sqlite://"), "sqlite")),
                                    Spool(tmp_path / "spool"))
    recorder.observe_route(object())  # type: ignore[arg-type]
    recorder.submit(None)  # type: ignore[arg-type]
    assert os.listdir(tmp_path) == []
