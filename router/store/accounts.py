"""Accounts (settings, default address, callback, emergency contacts) and their users.

Users see only their own data: every user-scoped method takes (account_id, sip_user) and
filters on both, so another user's row is indistinguishable from a missing one (`NotFound`).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import IntegrityError

from router.db import schema
from router.db.errors import Conflict, EnableRefused, InvalidValue, NotFound
from router.db.transactions import insert_for
from router.location.model import (
    DEFAULT_ACCOUNT_ID,
    E164,
    MAX_EMERGENCY_CONTACTS,
    Account,
    Callback,
    CallbackPreference,
    Page,
    User,
    ValidatedAddress,
)
from router.store.base import StoreBase, utc_now
from router.store.checks import check_language, check_limit, check_sip_user
from router.store.civic_json import civic_from_json, civic_to_json
from router.store.events import ChangeScope, bump
from router.store.guards import refuse_if_networks_use
from router.store.ids import new_id


class _Unset(Enum):
    UNSET = "unset"


UNSET: Final = _Unset.UNSET
"""Default of `update_account` keywords: leave that setting as it is."""


class AccountsStore(StoreBase):
    """Accounts, their emergency contacts, and their users."""

    # -- accounts -----------------------------------------------------------------------------

    def create_account(
        self, name: str, *, account_id: str | None = None, language: str = "en"
    ) -> Account:
        check_language("language", language)
        if not name.strip():
            raise InvalidValue("name", "must not be empty")
        now = utc_now()
        new = account_id or new_id("acct")
        try:
            with self._db.write() as conn:
                conn.execute(
                    schema.accounts.insert().values(
                        id=new, name=name.strip(), language=language, enabled=False,
                        created_at=now, updated_at=now,
                    )
                )
                bump(conn, ChangeScope.ACCOUNT, new)
        except IntegrityError as exc:
            raise Conflict(f"account {new!r} already exists") from exc
        return self.get_account(new)

    def get_account(self, account_id: str = DEFAULT_ACCOUNT_ID) -> Account:
        with self._db.read() as conn:
            return read_account(conn, account_id)

    def list_accounts(self) -> list[Account]:
        with self._db.read() as conn:
            return read_accounts(conn)

    def update_account(
        self,
        account_id: str = DEFAULT_ACCOUNT_ID,
        *,
        name: str | _Unset = UNSET,
        language: str | _Unset = UNSET,
        enabled: bool | _Unset = UNSET,
        default_address: ValidatedAddress | _Unset | None = UNSET,
        callback: Callback | _Unset | None = UNSET,
    ) -> Account:
        """Change the given settings. Enabling (or leaving enabled) an account whose address,
        callback or contacts are missing raises `EnableRefused` naming what is missing."""
        values: dict[str, Any] = {}
        if not isinstance(name, _Unset):
            if not name.strip():
                raise InvalidValue("name", "must not be empty")
            values["name"] = name.strip()
        if not isinstance(language, _Unset):
            check_language("language", language)
            values["language"] = language
        if not isinstance(enabled, _Unset):
            values["enabled"] = enabled
        if not isinstance(default_address, _Unset):
            values.update(
                default_civic=civic_to_json(default_address.civic) if default_address else None,
                default_msag_id=default_address.msag_id if default_address else None,
                default_esn=default_address.esn if default_address else None,
            )
        if not isinstance(callback, _Unset):
            values.update(
                callback_display_name=callback.display_name if callback else None,
                callback_number=callback.number if callback else None,
                callback_language=callback.language if callback else None,
            )
        with self._db.write() as conn:
            read_account(conn, account_id)
            if values:
                values["updated_at"] = utc_now()
                conn.execute(
                    schema.accounts.update()
                    .where(schema.accounts.c.id == account_id)
                    .values(**values)
                )
                bump(conn, ChangeScope.ACCOUNT, account_id)
            account = read_account(conn, account_id)
            _check_enable(account)
            return account

    def set_contacts(self, account_id: str, emails: Sequence[str]) -> tuple[str, ...]:
        """Replace the account's emergency contacts (at most 10, no duplicates, in order)."""
        cleaned = tuple(e.strip() for e in emails)
        if len(cleaned) > MAX_EMERGENCY_CONTACTS:
            raise InvalidValue(
                "emergency_contacts", f"at most {MAX_EMERGENCY_CONTACTS} contacts"
            )
        if any(not e for e in cleaned):
            raise InvalidValue("emergency_contacts", "empty e-mail address")
        if len({e.casefold() for e in cleaned}) != len(cleaned):
            raise InvalidValue("emergency_contacts", "duplicate e-mail address")
        with self._db.write() as conn:
            read_account(conn, account_id)
            conn.execute(
                schema.emergency_contacts.delete().where(
                    schema.emergency_contacts.c.account_id == account_id
                )
            )
            if cleaned:
                conn.execute(
                    schema.emergency_contacts.insert(),
                    [
                        {"account_id": account_id, "position": i, "email": e}
                        for i, e in enumerate(cleaned)
                    ],
                )
            bump(conn, ChangeScope.ACCOUNT, account_id)
            _check_enable(read_account(conn, account_id))
        return cleaned

    def get_contacts(self, account_id: str = DEFAULT_ACCOUNT_ID) -> tuple[str, ...]:
        return self.get_account(account_id).contacts

    # -- users ----------------------------------------------------------------------------------

    def upsert_user(
        self,
        account_id: str,
        sip_user: str,
        *,
        display_name: str = "",
        callback_number: str | None = None,
        language: str | None = None,
        callback_preference: CallbackPreference = CallbackPreference.ACCOUNT,
    ) -> User:
        """Create or replace a user's emergency information (PUT semantics)."""
        check_sip_user(sip_user)
        if callback_number is not None and not E164.match(callback_number):
            raise InvalidValue("callback_number", "must be E.164 (+ and up to 15 digits)")
        if language is not None:
            check_language("language", language)
        if callback_preference is CallbackPreference.OWN and callback_number is None:
            raise InvalidValue("callback_preference", "'own' needs the user's callback_number")
        now = utc_now()
        values = {
            "display_name": display_name.strip(),
            "callback_number": callback_number,
            "language": language,
            "callback_preference": callback_preference.value,
            "updated_at": now,
        }
        with self._db.write() as conn:
            read_account(conn, account_id)
            insert = self._db.insert()(schema.users).values(
                account_id=account_id, sip_user=sip_user, created_at=now, **values
            )
            conn.execute(
                insert.on_conflict_do_update(
                    index_elements=[schema.users.c.account_id, schema.users.c.sip_user],
                    set_=values,
                )
            )
            bump(conn, ChangeScope.USER, account_id, sip_user)
            return read_user(conn, account_id, sip_user)

    def get_user(self, account_id: str, sip_user: str) -> User:
        with self._db.read() as conn:
            return read_user(conn, account_id, sip_user)

    def list_users(
        self, account_id: str, *, limit: int = 20, starting_after: str | None = None
    ) -> Page[User]:
        check_limit(limit)
        u = schema.users
        query = sa.select(u).where(u.c.account_id == account_id).order_by(u.c.sip_user)
        if starting_after is not None:
            query = query.where(u.c.sip_user > starting_after)
        with self._db.read() as conn:
            rows = conn.execute(query.limit(limit + 1)).all()
        return Page(tuple(_user_from(r) for r in rows[:limit]), len(rows) > limit)

    def delete_user(self, account_id: str, sip_user: str) -> None:
        """Delete a user with its addresses and bindings."""
        with self._db.write() as conn:
            read_user(conn, account_id, sip_user)
            refuse_if_networks_use(
                conn,
                sa.select(schema.addresses.c.id).where(
                    schema.addresses.c.account_id == account_id,
                    schema.addresses.c.sip_user == sip_user,
                ),
            )
            conn.execute(
                schema.users.delete().where(
                    schema.users.c.account_id == account_id, schema.users.c.sip_user == sip_user
                )
            )
            bump(conn, ChangeScope.USER, account_id, sip_user)


# --- reads inside a caller's transaction (also used by the other parts of the store) ---------


def read_account(conn: Connection, account_id: str) -> Account:
    found = read_accounts(conn, account_id)
    if not found:
        raise NotFound("account", account_id)
    return found[0]


def read_accounts(conn: Connection, account_id: str | None = None) -> list[Account]:
    a, c = schema.accounts, schema.emergency_contacts
    query = sa.select(a).order_by(a.c.id)
    contacts_query = sa.select(c.c.account_id, c.c.email).order_by(
        c.c.account_id, c.c.position
    )
    if account_id is not None:
        query = query.where(a.c.id == account_id)
        contacts_query = contacts_query.where(c.c.account_id == account_id)
    contacts: dict[str, list[str]] = {}
    for owner, email in conn.execute(contacts_query):
        contacts.setdefault(owner, []).append(email)
    return [_account_from(row, tuple(contacts.get(row.id, ()))) for row in conn.execute(query)]


def read_user(conn: Connection, account_id: str, sip_user: str) -> User:
    u = schema.users
    row = conn.execute(
        sa.select(u).where(u.c.account_id == account_id, u.c.sip_user == sip_user)
    ).first()
    if row is None:
        raise NotFound("user", sip_user)
    return _user_from(row)


def ensure_user(conn: Connection, account_id: str, sip_user: str) -> None:
    """A user who saves an address before anyone set their details gets default ones."""
    now = utc_now()
    conn.execute(
        insert_for(conn)(schema.users)
        .values(
            account_id=account_id, sip_user=sip_user, display_name="",
            callback_preference=CallbackPreference.ACCOUNT.value,
            created_at=now, updated_at=now,
        )
        .on_conflict_do_nothing(
            index_elements=[schema.users.c.account_id, schema.users.c.sip_user]
        )
    )


def _check_enable(account: Account) -> None:
    if not account.enabled:
        return
    missing = [
        name
        for name, present in (
            ("default_address", account.default_address is not None),
            ("emergency_contacts", bool(account.contacts)),
            ("callback", account.callback is not None),
        )
        if not present
    ]
    if missing:
        raise EnableRefused(missing)


def _account_from(row: Row[Any], contacts: tuple[str, ...]) -> Account:
    default = (
        ValidatedAddress(civic_from_json(row.default_civic), row.default_msag_id, row.default_esn)
        if row.default_civic is not None
        else None
    )
    callback = (
        Callback(row.callback_display_name, row.callback_number, row.callback_language)
        if row.callback_number is not None
        else None
    )
    return Account(
        id=row.id, name=row.name, language=row.language, enabled=bool(row.enabled),
        default_address=default, callback=callback, contacts=contacts,
        created_at=row.created_at, updated_at=row.updated_at,
    )


def _user_from(row: Row[Any]) -> User:
    return User(
        account_id=row.account_id, sip_user=row.sip_user, display_name=row.display_name,
        callback_number=row.callback_number, language=row.language,
        callback_preference=CallbackPreference(row.callback_preference),
        created_at=row.created_at, updated_at=row.updated_at,
    )
