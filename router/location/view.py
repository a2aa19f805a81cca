"""The in-memory location view the SIP thread reads: `locate()` and `caller_context()`.

pjsua2 needs the caller's location synchronously, inside `onSelectAccount`, on its one
thread (DESIGN.md), so the call path never touches the database. The view holds an immutable
snapshot of bindings, admin networks, accounts and users. A background thread polls the
store's `change_seq` every `poll_interval_seconds` and, when it moved, builds a new snapshot
and swaps it in with a single reference assignment: a lookup reads one attribute and works on
that snapshot, so it never waits on a lock, a query or a rebuild.

The same thread drains the queue of "device seen on an unbound network" sightings that
`locate()` leaves, and writes them to the store as `network.changed` events.

A view that has not loaded answers `Unlocated(NOT_LOADED)`: a 911 call then goes to the
sorting center, never to a failure. A store outage after loading keeps the last snapshot.

Each swap tells `on_version` the snapshot's `change_seq`; the worker process, which owns the
metrics, sets the gauge `e911_location_view_version` with it: what the host endpoint reports
per worker, so an operator (or a test) that wrote the store at change_seq N can wait until
every worker locates with that write instead of guessing.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType, TracebackType
from typing import Protocol, TypeVar

import structlog

from router.location.bindings import BindPrefixes, masked, network_key_of, parse_ip
from router.location.model import (
    Account,
    CallbackPreference,
    CallerContext,
    Located,
    Location,
    LocationSource,
    Network,
    Unlocated,
    UnlocatedReason,
    ValidatedAddress,
)
from router.location.view_rows import BindingRow, UserRow, ViewChanges, ViewRows

log = structlog.get_logger(__name__)


class ViewSource(Protocol):
    """What the view reads and writes: the store (`router.store.store.Store`) in a worker. A
    protocol, so the location domain does not depend on the database layer."""

    bind_prefixes: BindPrefixes

    def change_seq(self) -> int: ...

    def load_view_rows(self, known_addresses: Container[str] = ...) -> ViewRows: ...

    def load_view_changes(self, since_seq: int, known_addresses: Container[str] = ..., *,
                          max_users: int = ...) -> ViewChanges | None: ...

    def record_network_seen(self, account_id: str, sip_user: str, ip: str) -> object: ...

K = TypeVar("K")
V = TypeVar("V")

BindingKey = tuple[str, str, int, int, int]
"""(account, sip_user, IP version, prefix length, network address as int)."""
NetworkMapKey = tuple[str, int, int, int]
"""(account, IP version, prefix length, network address as int)."""

_NOT_LOADED = Unlocated(UnlocatedReason.NOT_LOADED)
_INVALID_IP = Unlocated(UnlocatedReason.INVALID_IP)
_ERROR = Unlocated(UnlocatedReason.ERROR)
_NO_BINDING = Unlocated(UnlocatedReason.NO_BINDING)
_UNKNOWN_USER = Unlocated(UnlocatedReason.UNKNOWN_USER)
_UNKNOWN_ACCOUNT = Unlocated(UnlocatedReason.UNKNOWN_ACCOUNT)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One consistent copy of what lookups need; never mutated once built."""

    seq: int
    built_at: float
    """`time.monotonic()` when it was built."""
    accounts: Mapping[str, Account]
    users: Mapping[tuple[str, str], UserRow]
    users_with_addresses: frozenset[tuple[str, str]]
    bindings: Mapping[BindingKey, Located]
    binding_lengths: Mapping[int, tuple[int, ...]]
    """IP version -> prefix lengths bindings use, longest first (one, unless the bind
    prefix setting changed while old bindings remain)."""
    networks: Mapping[NetworkMapKey, Located]
    network_lengths: Mapping[tuple[str, int], tuple[int, ...]]
    """(account, IP version) -> prefix lengths of its admin networks, longest first."""
    bound_addresses: Mapping[str, tuple[BindingKey, Located]]
    """address id -> its binding: what the next build reuses instead of re-reading."""
    user_bindings: Mapping[tuple[str, str], tuple[str, ...]]
    """(account, SIP user) -> their bound address ids: what a user's change replaces."""


def build_snapshot(
    rows: ViewRows, previous: Snapshot | None = None, *, built_at: float | None = None
) -> Snapshot:
    """Index everything the store returned (a first load, or a reload when the change log
    cannot say what changed). Bindings unchanged since `previous` keep their objects."""
    bindings: dict[BindingKey, Located] = {}
    bound: dict[str, tuple[BindingKey, Located]] = {}
    user_bindings: dict[tuple[str, str], tuple[str, ...]] = {}
    _add_bindings(rows.bindings, rows.addresses, previous, bindings, bound, user_bindings)
    networks, network_lengths = _index_networks(rows.networks)
    return Snapshot(
        seq=rows.seq,
        built_at=time.monotonic() if built_at is None else built_at,
        accounts=MappingProxyType({a.id: a for a in rows.accounts}),
        users=MappingProxyType({(u.account_id, u.sip_user): u for u in rows.users}),
        users_with_addresses=rows.users_with_addresses,
        bindings=MappingProxyType(bindings),
        binding_lengths=_lengths_of(bindings),
        networks=networks,
        network_lengths=network_lengths,
        bound_addresses=MappingProxyType(bound),
        user_bindings=MappingProxyType(user_bindings),
    )


def apply_changes(
    previous: Snapshot, changes: ViewChanges, *, built_at: float | None = None
) -> Snapshot:
    """A new snapshot: `previous` with the changed users, accounts and networks replaced.

    Copying the dicts of 100,000 bindings takes milliseconds; re-reading them takes seconds.
    """
    bindings = _copy(previous.bindings)
    bound = _copy(previous.bound_addresses)
    user_bindings = _copy(previous.user_bindings)
    users = _copy(previous.users)
    for user in changes.users:
        for address_id in user_bindings.pop(user, ()):
            key, _ = bound.pop(address_id)
            del bindings[key]
        users.pop(user, None)
    users.update({(u.account_id, u.sip_user): u for u in changes.user_rows})
    _add_bindings(changes.bindings, changes.addresses, previous, bindings, bound, user_bindings)
    if changes.networks is not None:
        networks, network_lengths = _index_networks(changes.networks)
    else:
        networks, network_lengths = previous.networks, previous.network_lengths
    return Snapshot(
        seq=changes.seq,
        built_at=time.monotonic() if built_at is None else built_at,
        accounts=(
            MappingProxyType({a.id: a for a in changes.accounts})
            if changes.accounts is not None
            else previous.accounts
        ),
        users=MappingProxyType(users),
        users_with_addresses=(
            (previous.users_with_addresses - changes.users) | changes.users_with_addresses
        ),
        bindings=MappingProxyType(bindings),
        binding_lengths=_merge_lengths(previous.binding_lengths, changes.bindings),
        networks=networks,
        network_lengths=network_lengths,
        bound_addresses=MappingProxyType(bound),
        user_bindings=MappingProxyType(user_bindings),
    )


def _copy(mapping: Mapping[K, V]) -> dict[K, V]:
    """A dict copy; through the proxy's `copy()` it is the C dict copy, not a key-by-key one
    (100,000 entries: about 2 ms instead of 20)."""
    if isinstance(mapping, MappingProxyType):
        return mapping.copy()
    return dict(mapping)


def _add_bindings(
    rows: Iterable[BindingRow],
    addresses: Mapping[str, ValidatedAddress],
    previous: Snapshot | None,
    bindings: dict[BindingKey, Located],
    bound: dict[str, tuple[BindingKey, Located]],
    user_bindings: dict[tuple[str, str], tuple[str, ...]],
) -> None:
    """Index binding rows; a saved address never changes once stored, so a binding already
    in `previous` keeps its key and `Located`, and only new ones are parsed and built."""
    reuse = previous.bound_addresses if previous is not None else {}
    for row in rows:
        entry = reuse.get(row.address_id)
        if entry is None or entry[1].network != row.network:
            address = addresses.get(row.address_id)
            if address is None:  # a known address on a new network: reuse its decoded civic
                if entry is None:
                    raise LookupError(f"address {row.address_id} missing from the view rows")
                address = ValidatedAddress(entry[1].civic, entry[1].msag_id, entry[1].esn)
            version, length, value = network_key_of(row.network)
            entry = (
                (row.account_id, row.sip_user, version, length, value),
                Located(
                    address_id=row.address_id, civic=address.civic, msag_id=address.msag_id,
                    esn=address.esn, source=LocationSource.BINDING, network=row.network,
                ),
            )
        bindings[entry[0]] = entry[1]
        bound[row.address_id] = entry
        user = (row.account_id, row.sip_user)
        user_bindings[user] = (*user_bindings.get(user, ()), row.address_id)


def _index_networks(
    rows: Iterable[Network],
) -> tuple[Mapping[NetworkMapKey, Located], Mapping[tuple[str, int], tuple[int, ...]]]:
    networks: dict[NetworkMapKey, Located] = {}
    lengths: dict[tuple[str, int], set[int]] = {}
    for net in rows:
        version, length, value = network_key_of(net.cidr)
        networks[(net.account_id, version, length, value)] = Located(
            address_id=net.address_id, civic=net.address.civic, msag_id=net.address.msag_id,
            esn=net.address.esn, source=LocationSource.NETWORK, network=net.cidr,
            network_id=net.id,
        )
        lengths.setdefault((net.account_id, version), set()).add(length)
    return MappingProxyType(networks), MappingProxyType(
        {k: tuple(sorted(ls, reverse=True)) for k, ls in lengths.items()}
    )


def _lengths_of(bindings: Mapping[BindingKey, Located]) -> Mapping[int, tuple[int, ...]]:
    lengths: dict[int, set[int]] = {}
    for key in bindings:
        lengths.setdefault(key[2], set()).add(key[3])
    return MappingProxyType({v: tuple(sorted(ls, reverse=True)) for v, ls in lengths.items()})


def _merge_lengths(
    previous: Mapping[int, tuple[int, ...]], rows: Iterable[BindingRow]
) -> Mapping[int, tuple[int, ...]]:
    """Prefix lengths only grow between full loads: a stale extra length costs one dict
    probe, never a wrong answer."""
    lengths = {v: set(ls) for v, ls in previous.items()}
    for row in rows:
        version, length, _ = network_key_of(row.network)
        lengths.setdefault(version, set()).add(length)
    return MappingProxyType({v: tuple(sorted(ls, reverse=True)) for v, ls in lengths.items()})


@dataclass(frozen=True, slots=True)
class _Sighting:
    account_id: str
    sip_user: str
    ip: str


class LocationView:
    """See the module docstring. `start()` the poller, or call `refresh()` yourself."""

    def __init__(
        self,
        store: ViewSource,
        *,
        poll_interval_seconds: float = 0.5,
        sighting_queue_size: int = 1024,
        sighting_dedupe_seconds: float = 60.0,
        on_version: Callable[[int], None] | None = None,
    ) -> None:
        self._store = store
        self._on_version = on_version
        """Told each swapped snapshot's change_seq (the worker: `e911_location_view_version`)."""
        self._prefixes = store.bind_prefixes
        self._poll_interval = poll_interval_seconds
        self._snapshot: Snapshot | None = None
        self._refresh_lock = threading.Lock()
        self._swapped = threading.Condition()
        self._sightings: queue.Queue[_Sighting | None] = queue.Queue(sighting_queue_size)
        self._recent_sightings: dict[tuple[str, str, int, int], float] = {}
        self._sighting_dedupe = sighting_dedupe_seconds
        self._dropped_sightings = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._healthy = True
        self.full_loads = 0
        """Snapshots built from every row (the first, or when the change log fell short)."""
        self.incremental_loads = 0
        """Snapshots built by patching the previous one with the change log."""

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> LocationView:
        """Start the poller thread (a first load is attempted at once, off this thread)."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, name="e911-location-view", daemon=True
            )
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the poller after writing the sightings already queued."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        # When the queue is full the loop still wakes within one poll interval and stops.
        with contextlib.suppress(queue.Full):
            self._sightings.put_nowait(None)
        thread.join(timeout)

    def __enter__(self) -> LocationView:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- state ----------------------------------------------------------------------------------

    @property
    def snapshot(self) -> Snapshot | None:
        return self._snapshot

    @property
    def loaded(self) -> bool:
        return self._snapshot is not None

    @property
    def seq(self) -> int | None:
        snap = self._snapshot
        return None if snap is None else snap.seq

    @property
    def dropped_sightings(self) -> int:
        """Sightings not queued because the queue was full (the store was slow or down)."""
        return self._dropped_sightings

    def refresh(self) -> bool:
        """Reload when the store's `change_seq` moved; True when a new snapshot was swapped in.

        Raises what the store raises (the poller catches and logs it)."""
        with self._refresh_lock:
            current = self._snapshot
            seq = self._store.change_seq()
            if current is not None and current.seq == seq:
                return False
            started = time.monotonic()
            changes = (
                self._store.load_view_changes(current.seq, current.bound_addresses)
                if current is not None
                else None
            )
            if current is not None and changes is not None:
                snapshot = apply_changes(current, changes)
                self.incremental_loads += 1
            else:
                self.full_loads += 1
                known = current.bound_addresses if current is not None else frozenset()
                snapshot = build_snapshot(self._store.load_view_rows(known), current)
            self._snapshot = snapshot  # the swap: one reference assignment
            if self._on_version is not None:
                self._on_version(snapshot.seq)
            log.debug(
                "e911.view.refreshed", seq=snapshot.seq, bindings=len(snapshot.bindings),
                networks=len(snapshot.networks), users=len(snapshot.users),
                build_ms=round((time.monotonic() - started) * 1000, 1),
                incremental=changes is not None,
            )
        with self._swapped:
            self._swapped.notify_all()
        return True

    def catch_up(self, seq: int) -> None:
        """Read-your-writes for a call someone decided at change_seq `seq` (the front, issue
        19): a view behind it loads the change now, on the calling thread. Never raises: a
        store that does not answer leaves the snapshot we have (as the poller would)."""
        snap = self._snapshot
        if snap is not None and snap.seq >= seq:
            return
        try:
            self.refresh()
        except Exception:
            log.warning("e911.view.catch_up_failed", seq=seq, exc_info=True)

    def wait_for_seq(self, seq: int, timeout: float) -> bool:
        """Block (not on the SIP thread!) until a snapshot at `seq` or later is in force."""
        deadline = time.monotonic() + timeout
        with self._swapped:
            while True:
                snap = self._snapshot
                if snap is not None and snap.seq >= seq:
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._swapped.wait(remaining)

    # -- lookups (the SIP thread) ---------------------------------------------------------

    def locate(self, account_id: str, sip_user: str, device_ip: str) -> Location:
        """The caller's effective location: their binding for the device's network, else the
        most specific admin network containing the IP, else `Unlocated`. Never raises."""
        snap = self._snapshot
        if snap is None:
            return _NOT_LOADED
        try:
            try:
                address = parse_ip(device_ip)
            except ValueError:
                return _INVALID_IP
            version = address.version
            value = int(address)
            bindings = snap.bindings
            for length in snap.binding_lengths.get(version, ()):
                hit = bindings.get(
                    (account_id, sip_user, version, length, masked(value, version, length))
                )
                if hit is not None:
                    return hit
            networks = snap.networks
            for length in snap.network_lengths.get((account_id, version), ()):
                hit = networks.get((account_id, version, length, masked(value, version, length)))
                if hit is not None:
                    return hit
            if account_id not in snap.accounts:
                return _UNKNOWN_ACCOUNT
            user = (account_id, sip_user)
            if user not in snap.users:
                return _UNKNOWN_USER
            if user in snap.users_with_addresses:
                self._note_sighting(account_id, sip_user, version, value, str(address))
            return _NO_BINDING
        except Exception:
            log.exception("e911.view.locate_failed", account_id=account_id)
            return _ERROR

    def caller_context(self, account_id: str, sip_user: str) -> CallerContext:
        """What the call plan needs about the caller besides the location. Never raises."""
        snap = self._snapshot
        if snap is None:
            return CallerContext(loaded=False)
        try:
            account = snap.accounts.get(account_id)
            user = snap.users.get((account_id, sip_user))
            return CallerContext(
                loaded=True,
                account_known=account is not None,
                account_enabled=bool(account and account.enabled),
                account_language=account.language if account else None,
                account_callback=account.callback if account else None,
                contacts_count=len(account.contacts) if account else 0,
                user_known=user is not None,
                user_display_name=user.display_name if user else None,
                user_callback_number=user.callback_number if user else None,
                user_language=user.language if user else None,
                callback_preference=(
                    CallbackPreference(user.callback_preference)
                    if user else CallbackPreference.ACCOUNT
                ),
                user_has_addresses=(account_id, sip_user) in snap.users_with_addresses,
            )
        except Exception:
            log.exception("e911.view.caller_context_failed", account_id=account_id)
            return CallerContext(loaded=True)

    def _note_sighting(
        self, account_id: str, sip_user: str, version: int, value: int, ip: str
    ) -> None:
        """Queue a `network.changed` candidate without blocking; the poller writes it."""
        length = self._prefixes.for_version(version)
        key = (account_id, sip_user, version, masked(value, version, length))
        now = time.monotonic()
        last = self._recent_sightings.get(key)
        if last is not None and now - last < self._sighting_dedupe:
            return
        if len(self._recent_sightings) > 100_000:
            self._recent_sightings.clear()  # bounded memory; the store rate-limits anyway
        self._recent_sightings[key] = now
        try:
            self._sightings.put_nowait(_Sighting(account_id, sip_user, ip))
        except queue.Full:
            self._dropped_sightings += 1

    # -- the poller thread ------------------------------------------------------------------

    def _run(self) -> None:
        next_poll = time.monotonic()
        while not self._stop.is_set():
            if time.monotonic() >= next_poll:
                self._poll_once()
                next_poll = time.monotonic() + self._poll_interval
            try:
                sighting = self._sightings.get(timeout=max(0.0, next_poll - time.monotonic()))
            except queue.Empty:
                continue
            if sighting is None:
                break
            self._record(sighting)
        self._drain()

    def _poll_once(self) -> None:
        try:
            self.refresh()
        except Exception:
            if self._healthy:
                log.warning("e911.view.refresh_failed", exc_info=True)
            self._healthy = False
            return
        if not self._healthy:
            log.info("e911.view.refresh_recovered", seq=self.seq)
        self._healthy = True

    def _drain(self) -> None:
        while True:
            try:
                sighting = self._sightings.get_nowait()
            except queue.Empty:
                return
            if sighting is not None:
                self._record(sighting)

    def _record(self, sighting: _Sighting) -> None:
        try:
            self._store.record_network_seen(sighting.account_id, sighting.sip_user, sighting.ip)
        except Exception:
            log.warning(
                "e911.view.network_seen_failed", account_id=sighting.account_id, exc_info=True
            )
