"""Many users at once, for load runs and benchmarks: users, one saved address each and its
binding, written in one transaction (one executemany per table, by chunks) instead of three
store transactions a user.

The store has no bulk method (its API is one user at a time: `upsert_user`, `add_address`,
`bind`); this writes the rows those methods write, with the same checks (SIP user, E.164
callback number, the binding's network from `network_of` and the store's bind prefixes), and
steps `change_seq` once without a change-log row, so a running `LocationView` reloads
everything (as after a pruned log) rather than missing users.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from router.db import schema
from router.location.bindings import network_of, parse_ip
from router.location.model import (
    DEFAULT_ACCOUNT_ID,
    E164,
    CallbackPreference,
    ValidatedAddress,
)
from router.store.checks import check_sip_user
from router.store.civic_json import civic_to_json
from router.store.ids import new_id
from router.store.store import Store

CHUNK = 10_000


@dataclass(frozen=True, slots=True)
class BulkUser:
    sip_user: str
    callback_number: str | None = None
    """Their own callback number (callback preference `own`); None: the account's."""
    bound_ip: str | None = None
    """The device IP their one saved address is bound to; None: no address at all."""
    language: str = "en"


def bulk_add_users(store: Store, users: Iterable[BulkUser], address: ValidatedAddress, *,
                   account_id: str = DEFAULT_ACCOUNT_ID, label: str = "office") -> int:
    """Insert `users` (new ones: an existing SIP user is an integrity error) with `address`
    saved and bound for each that has a `bound_ip`. Returns how many users were written."""
    now = datetime.now(UTC)
    civic = civic_to_json(address.civic)
    user_rows: list[dict[str, object]] = []
    address_rows: list[dict[str, object]] = []
    binding_rows: list[dict[str, object]] = []
    for user in users:
        check_sip_user(user.sip_user)
        if user.callback_number is not None and not E164.match(user.callback_number):
            raise ValueError(f"{user.sip_user}: callback number {user.callback_number!r} is not "
                             f"E.164")
        user_rows.append({
            "account_id": account_id, "sip_user": user.sip_user,
            "display_name": f"Caller {user.sip_user}", "callback_number": user.callback_number,
            "language": user.language,
            "callback_preference": (CallbackPreference.OWN if user.callback_number
                                    else CallbackPreference.ACCOUNT).value,
            "created_at": now, "updated_at": now,
        })
        if user.bound_ip is None:
            continue
        address_id = new_id("adr")
        address_rows.append({
            "id": address_id, "account_id": account_id, "sip_user": user.sip_user,
            "label": label, "civic": civic, "msag_id": address.msag_id, "esn": address.esn,
            "created_at": now,
        })
        binding_rows.append({
            "address_id": address_id, "account_id": account_id, "sip_user": user.sip_user,
            "network": str(network_of(user.bound_ip, store.bind_prefixes)),
            "registered_ip": str(parse_ip(user.bound_ip)), "bound_at": now,
        })
    with store.engine.begin() as conn:
        for table, rows in ((schema.users, user_rows), (schema.addresses, address_rows),
                            (schema.bindings, binding_rows)):
            for start in range(0, len(rows), CHUNK):
                conn.execute(table.insert(), rows[start:start + CHUNK])
        conn.execute(schema.change_seq.update().where(schema.change_seq.c.id == 1)
                     .values(seq=schema.change_seq.c.seq + 1))
    return len(user_rows)
