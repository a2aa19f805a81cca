"""`e911-router demo seed`: the data `./scripts/run` starts with (idempotent).

- the shipped MSAG sample (`config/msag/*.csv`) imported when the store has no extract;
- the default account with a validated company address, one emergency contact, a callback
  number, and E911 enabled;
- user 1001 (Ada) with a saved, validated office address bound to 127.0.0.1, so calls from
  this machine are located; user 1002 (Grace) with no address, so her ordinary calls hear the
  "address not registered" announcement and her 911 calls go to the sorting center.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from router.commands._common import load_settings_or_none, open_settings_store
from router.commands.address import SHIPPED_MSAG_DIR
from router.location.civic import AddressInput
from router.location.model import (
    DEFAULT_ACCOUNT_ID,
    Callback,
    CallbackPreference,
    ValidatedAddress,
)
from router.location.msag import MsagIndex, parse_msag_files
from router.location.validate import validate_address
from router.store.store import Store

DEMO_IP = "127.0.0.1"
COMPANY = AddressInput(country="US", house_number="101", street="E Main St",
                       city="White Sulphur Springs", state="MT", postal_code="59645")
OFFICE = AddressInput(country="US", house_number="101", street="E Main St", street2="Suite 4",
                      city="White Sulphur Springs", state="MT", postal_code="59645")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("demo", help="demo data for ./scripts/run")
    actions = parser.add_subparsers(dest="demo_command", metavar="ACTION", required=True)
    seed = actions.add_parser("seed", help="import the sample MSAG and create demo users")
    seed.add_argument("--env-file", help="read this file instead of .env")
    seed.set_defaults(handler=_seed_command)


def _validated(index: MsagIndex, raw: AddressInput) -> ValidatedAddress:
    result = validate_address(raw, index)
    if not result.valid or result.normalized is None or result.msag is None:
        raise RuntimeError(f"demo address does not validate: {result.to_json()['errors']}")
    return ValidatedAddress(result.normalized, result.msag.msag_id, result.msag.esn)


def seed(store: Store, msag_dir: Path = SHIPPED_MSAG_DIR) -> dict[str, object]:
    """Put the demo data in `store`; returns what was done (for the command's JSON)."""
    done: dict[str, object] = {}
    rows = store.load_msag_rows()
    if not rows:
        parsed = parse_msag_files(sorted(msag_dir.glob("*.csv")))
        version = store.replace_msag(parsed)
        done["msag_imported_rows"] = version.row_count
        rows = store.load_msag_rows()
    index = MsagIndex.from_rows(rows)

    store.set_contacts(DEFAULT_ACCOUNT_ID, ["e911-contacts@example.com"])
    store.update_account(
        DEFAULT_ACCOUNT_ID, name="Demo Company",
        default_address=_validated(index, COMPANY),
        callback=Callback(display_name="DemoCompany", number="+14065550100", language="en"),
        enabled=True,
    )
    store.upsert_user(DEFAULT_ACCOUNT_ID, "1001", display_name="Ada Lovelace",
                      callback_number="+14065550101", language="en",
                      callback_preference=CallbackPreference.OWN)
    store.upsert_user(DEFAULT_ACCOUNT_ID, "1002", display_name="Grace Hopper", language="es")
    saved = store.list_addresses(DEFAULT_ACCOUNT_ID, "1001", limit=1)
    if saved.data:
        office = saved.data[0]
    else:
        office = store.add_address(DEFAULT_ACCOUNT_ID, "1001", _validated(index, OFFICE),
                                   label="office")
    store.bind(DEFAULT_ACCOUNT_ID, "1001", office.id, DEMO_IP)
    done.update(account=DEFAULT_ACCOUNT_ID, located_user="1001", unlocated_user="1002",
                address_id=office.id, bound_ip=DEMO_IP)
    return done


def _seed_command(args: argparse.Namespace) -> int:
    settings = load_settings_or_none(args.env_file)
    if settings is None:
        return 2
    store = open_settings_store(settings)
    try:
        print(json.dumps(seed(store)))
    finally:
        store.close()
    return 0
