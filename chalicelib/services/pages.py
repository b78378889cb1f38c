"""A patient's lists a page at a time: invoices, attempts, callbacks (newest first) and the ledger.

The follow-up detail shows each list's first page and its cursor; the paginated routes go on from
there. A cursor names its list and patient, so one list's cursor is refused by another."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Generic, TypeVar

from ..domain import cursor as cursors
from ..domain.account import Invoice, LedgerLine
from ..domain.contact import Attempt, Callback
from ..domain.errors import ValidationError
from ..domain.roles import Caller
from . import patients

T = TypeVar("T")
DETAIL_ITEMS = 50  # what the follow-up detail shows of each list
_CHILD_ID = re.compile(r"^[a-z]{2,4}_[0-9a-z]{6,40}_[0-9a-z]{6,60}$")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def _bad() -> ValidationError:
    return ValidationError("cursor is not a cursor this list returned", fields={"cursor": "use next_cursor as given"})


def _position(kind: str, patient_id: str, cursor: str | None, size: int) -> list | None:
    if cursor is None:
        return None
    position = cursors.decode(f"{kind}:{patient_id}", cursor)
    if len(position) != size:
        raise _bad()
    return position


def _child_id(position: list | None) -> str | None:
    if position is None:
        return None
    if not isinstance(position[0], str) or not _CHILD_ID.match(position[0]):
        raise _bad()
    return position[0]


def newest_invoices_first(invoices) -> list[Invoice]:
    """Business rule: invoices newest first: by invoice date, then the later created, then id."""
    return sorted(invoices, key=lambda i: (i.invoice_date, i.created_at.isoformat() if i.created_at else "",
                                           i.invoice_id), reverse=True)


def invoice_page(ordered: list[Invoice], patient_id: str, limit: int, cursor: str | None) -> Page[Invoice]:
    """A page of `ordered` (newest first) after the cursor's invoice."""
    position = _position("invoices", patient_id, cursor, 3)
    start = 0
    if position is not None:
        if not all(isinstance(p, str) for p in position):
            raise _bad()
        try:
            date.fromisoformat(position[0])
        except ValueError as e:
            raise _bad() from e
        key = tuple(position)
        start = next((n for n, i in enumerate(ordered) if _invoice_key(i) < key), len(ordered))
    items = ordered[start:start + limit]
    more = start + limit < len(ordered)
    return Page(items, cursors.encode(f"invoices:{patient_id}", list(_invoice_key(items[-1]))) if more else None)


def _invoice_key(i: Invoice) -> tuple[str, str, str]:
    return (i.invoice_date.isoformat(), i.created_at.isoformat() if i.created_at else "", i.invoice_id)


def invoices(uow, caller: Caller, patient_id: str, *, limit: int, cursor: str | None) -> Page[Invoice]:
    patients.get(uow, caller, patient_id)
    loaded = uow.accounts.load(caller.clinic_id, patient_id)
    return invoice_page(newest_invoices_first(loaded.account.invoices.values()), patient_id, limit, cursor)


def _newest_first(kind: str, read, id_of, uow, caller: Caller, patient_id: str, limit: int, cursor: str | None,
                  check_patient: bool) -> Page:
    """A page of one of the patient's lists whose ids sort as they were made, newest first."""
    if check_patient:
        patients.get(uow, caller, patient_id)
    before = _child_id(_position(kind, patient_id, cursor, 1))
    items, more = read(caller.clinic_id, patient_id, limit, before)
    return Page(items, cursors.encode(f"{kind}:{patient_id}", [id_of(items[-1])]) if more else None)


def attempts(uow, caller: Caller, patient_id: str, *, limit: int, cursor: str | None,
             check_patient: bool = True) -> Page[Attempt]:
    return _newest_first("attempts", uow.contacts.attempts_page, lambda a: a.attempt_id, uow, caller, patient_id,
                         limit, cursor, check_patient)


def callbacks(uow, caller: Caller, patient_id: str, *, limit: int, cursor: str | None,
              check_patient: bool = True) -> Page[Callback]:
    return _newest_first("callbacks", uow.contacts.callbacks_page, lambda c: c.callback_id, uow, caller, patient_id,
                         limit, cursor, check_patient)


def ledger(uow, caller: Caller, patient_id: str, *, limit: int, cursor: str | None) -> Page[LedgerLine]:
    """Oldest first; the last entry's `balance_after_cents` is the patient's balance."""
    patients.get(uow, caller, patient_id)
    position = _position("ledger", patient_id, cursor, 1)
    after = None
    if position is not None:
        if not isinstance(position[0], int) or isinstance(position[0], bool) or position[0] < 1:
            raise _bad()
        after = position[0]
    items, more = uow.accounts.ledger_page(caller.clinic_id, patient_id, limit, after)
    return Page(items, cursors.encode(f"ledger:{patient_id}", [items[-1].seq]) if more else None)
