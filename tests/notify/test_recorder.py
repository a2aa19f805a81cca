"""The recorder: non-blocking submit, 933 filtering, spooling while the store is down and the
import once it is back; the routing hook built from a real store's in-memory view."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from structlog.testing import capture_logs

from router.call.decide import CallRouter, Routed
from router.call.inbound import parse_invite
from router.db import schema
from router.location.civic import CivicAddress
from router.location.model import (
    DEFAULT_ACCOUNT_ID,
    Callback,
    CallbackPreference,
    ValidatedAddress,
)
from router.location.view import LocationView
from router.metrics import REGISTRY
from router.notify.model import CountedState, EmergencyCallNotice
from router.notify.outbox import Outbox
from router.notify.recorder import NotificationRecorder
from router.notify.spool import Spool
from router.settings import load_settings
from router.store.store import Store
from tests.support.flaky_store import CommittedWrites, EngineOnly, flaky_store, on_insert
from tests.support.notices import CONTACTS, make_sender, notice, run_until, with_contacts
from tests.support.smtp_server import SmtpServer
from tests.support.stores import validated


@pytest.fixture
def flaky(store_url: str, tmp_path: Path) -> Iterator[tuple[EngineOnly, Callable[[], None],
                                                            Callable[[], None]]]:
    """(store-like whose database can be taken away, down(), up()) on each engine."""
    with flaky_store(store_url, tmp_path) as store:
        yield store.target, store.down, store.up


def test_store_down_spools_the_notice_and_imports_and_delivers_it_later(
    flaky: tuple[EngineOnly, Callable[[], None], Callable[[], None]], tmp_path: Path,
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
    flaky: tuple[EngineOnly, Callable[[], None], Callable[[], None]], tmp_path: Path,
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


# -- batches --------------------------------------------------------------------------------


def _counted(state: CountedState) -> float:
    return REGISTRY.get_sample_value("e911_notifications_total", {"state": state.value}) or 0.0


def _notify_events(logs: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(e["event"], e.get("call_ref"), e.get("store_error")) for e in logs
            if e["event"] in ("e911.notify.recorded", "e911.notify.spooled",
                              "e911.notify.batch_failed", "e911.notify.imported")]


def test_burst_of_queued_notices_is_recorded_in_one_transaction(
    store: Store, tmp_path: Path
) -> None:
    """30 notices queued at once: one transaction of 30 notifications, then per notice (in
    order) a `recorded` event and count and an `emergency_call.started` event, as before."""
    outbox = Outbox(with_contacts(store), events=store)
    recorder = NotificationRecorder(outbox, Spool(tmp_path / "spool"))
    burst = [notice() for _ in range(30)]
    for call in burst:
        recorder.submit(call)  # not started yet: all queued before the thread takes the first
    recorded = _counted(CountedState.RECORDED)
    with CommittedWrites(store.engine, "notifications") as writes, capture_logs() as logs:
        recorder.start()
        assert recorder.flush(30)
        recorder.stop()
    assert writes.rows == [30]
    assert _notify_events(logs) == [("e911.notify.recorded", c.call_ref, None) for c in burst]
    assert _counted(CountedState.RECORDED) == recorded + 30
    started = store.list_events(DEFAULT_ACCOUNT_ID, types=["emergency_call.started"])
    assert [e.data["call_ref"] for e in started] == [c.call_ref for c in burst]
    assert len(outbox.list_deliveries(limit=1000)) == 30 * len(CONTACTS)


def test_a_notice_the_store_refuses_is_spooled_and_the_rest_of_its_batch_recorded(
    store: Store, tmp_path: Path
) -> None:
    """Notice 3 of 5 breaks a NOT NULL: the batch rolls back and the recorder writes one by
    one: 1, 2, 4, 5 recorded (one transaction each), 3 spooled, as without batching; the
    thread's first spool pass then imports it (the spool file reads its language back as
    the text "None")."""
    outbox = Outbox(with_contacts(store))
    spool = Spool(tmp_path / "spool")
    recorder = NotificationRecorder(outbox, spool)
    calls = [notice(), notice(), notice(language=None), notice(), notice()]
    for call in calls:
        recorder.submit(call)
    recorded, spooled = _counted(CountedState.RECORDED), _counted(CountedState.SPOOLED)
    with CommittedWrites(store.engine, "notifications") as writes, capture_logs() as logs:
        recorder.start()
        assert recorder.flush(30)
        recorder.stop()
    assert [(e["notices"], e["error"]) for e in logs
            if e["event"] == "e911.notify.batch_failed"] == [(5, "IntegrityError")]
    assert _notify_events(logs) == [("e911.notify.batch_failed", None, None)] + [
        ("e911.notify.spooled", c.call_ref, "IntegrityError") if c.language is None
        else ("e911.notify.recorded", c.call_ref, None) for c in calls] + [
        ("e911.notify.imported", calls[2].call_ref, None)]
    assert writes.rows == [1, 1, 1, 1, 1]
    assert (_counted(CountedState.RECORDED), _counted(CountedState.SPOOLED)) == (
        recorded + 4, spooled + 1)
    assert spool.paths() == []
    stored = [outbox.get_call(c.call_ref) for c in calls]
    assert [s.via_spool if s is not None else None for s in stored] == [
        False, False, True, False, False]


def test_store_outage_mid_batch_spools_every_notice_and_imports_each_once(
    flaky: tuple[EngineOnly, Callable[[], None], Callable[[], None]], tmp_path: Path
) -> None:
    """The store goes away as the batch inserts (PostgreSQL: the connection is cut under the
    INSERT; SQLite: the database's directory is gone before it): the batch fails, each notice
    then fails alone and is spooled. Store back: the import records each once."""
    target, down, up = flaky
    outbox = Outbox(target)
    spool = Spool(tmp_path / "spool")
    recorder = NotificationRecorder(outbox, spool)
    calls = [notice() for _ in range(5)]
    for call in calls:
        recorder.submit(call)
    if target.dialect == "sqlite":
        down()
    else:
        on_insert(target.engine, "notifications", down)
    spooled = _counted(CountedState.SPOOLED)
    with CommittedWrites(target.engine, "notifications") as writes, capture_logs() as logs:
        recorder.start()
        assert recorder.flush(60)
        recorder.stop()
    assert writes.rows == []
    assert _notify_events(logs) == [("e911.notify.batch_failed", None, None)] + [
        ("e911.notify.spooled", c.call_ref, "OperationalError") for c in calls]
    assert _counted(CountedState.SPOOLED) == spooled + 5
    assert sorted(p.name for p in spool.paths()) == sorted(f"{c.call_ref}.json" for c in calls)

    up()
    importer = NotificationRecorder(outbox, spool)
    assert importer.import_spool() == 5
    assert importer.import_spool() == 0
    n = schema.notifications
    with target.engine.connect() as conn:
        rows = conn.execute(sa.select(n.c.call_ref, n.c.via_spool)).all()
    assert sorted(rows) == sorted((c.call_ref, True) for c in calls)


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
                         callback=Callback("Acme Dispatch", "+14065550100", "fr"), language="en")
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
    router = CallRouter(settings.dialplan_config(), view, settings.routing_policy())

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
    recorder = NotificationRecorder(Outbox(EngineOnly(sa.create_engine("sqlite://"), "sqlite")),
                                    Spool(tmp_path / "spool"))
    recorder.observe_route(object())  # type: ignore[arg-type]
    recorder.submit(None)  # type: ignore[arg-type]
    assert os.listdir(tmp_path) == []
