"""How patients and invoices are found other than by id: external ids (uniqueness items) and
search terms (one item per term, sorted by name).

Both are staged into the same transaction as the patient or invoice change they follow, so they
are never out of date: a patient's search items change with the record that changes its name,
phone or email; an external id is taken by a conditional Put in the transaction that creates the
patient or invoice (two senders: one transaction wins, the other's condition fails).
"""

from __future__ import annotations

from pynamodb.exceptions import DoesNotExist

from ..domain import account as acc
from ..domain import integrations as terms
from . import keys
from .accounts import patient_from
from .models import ExternalIdRecord, PatientRecord, Record, SearchRecord
from .uow import Transaction

PATIENT, INVOICE = "PAT", "INV"
FILTER_MAX_QUERIES = 8  # a query of several words reads on (filtered) within this budget


def _search_items(clinic_id: str, p: acc.Patient) -> dict[tuple[str, str], SearchRecord]:
    found = terms.terms_of(p.name, p.phone, p.email)
    name = terms.sort_name(p.name)
    words = " " + " ".join(terms.words(p.name))
    return {(pk, keys.search_sk(name, p.patient_id)): SearchRecord(
        pk, keys.search_sk(name, p.patient_id), patient_id=p.patient_id, words=words)
        for pk in (keys.search_pk(clinic_id, kind, term) for kind, term in found.keys())}


class DirectoryRepository:
    def __init__(self, tx: Transaction):
        self._tx = tx

    # ----- external ids --------------------------------------------------------------------
    def _xid(self, clinic_id: str, kind: str, external_id: str) -> ExternalIdRecord | None:
        try:
            return ExternalIdRecord.get(keys.external_id_pk(clinic_id, kind, external_id), keys.EXTERNAL_ID_SK,
                                        consistent_read=True)
        except DoesNotExist:
            return None

    def patient_for(self, clinic_id: str, external_id: str) -> str | None:
        """The patient id that holds the external id, or None (one strongly consistent GetItem)."""
        found = self._xid(clinic_id, PATIENT, external_id)
        return found.patient_id if found else None

    def invoice_for(self, clinic_id: str, external_id: str) -> tuple[str, str] | None:
        """(patient_id, invoice_id) of the invoice that holds the external id, or None."""
        found = self._xid(clinic_id, INVOICE, external_id)
        return (found.patient_id, found.invoice_id) if found else None

    def holders(self, clinic_id: str, patient_external_id: str,
                invoice_external_id: str | None) -> tuple[str | None, tuple[str, str] | None]:
        """`patient_for` and `invoice_for` together, in one strongly consistent BatchGetItem (an
        import's row check reads both)."""
        if invoice_external_id is None:
            return self.patient_for(clinic_id, patient_external_id), None
        pat = keys.external_id_pk(clinic_id, PATIENT, patient_external_id)
        inv = keys.external_id_pk(clinic_id, INVOICE, invoice_external_id)
        found = {r.pk: r for r in ExternalIdRecord.batch_get([(pat, keys.EXTERNAL_ID_SK), (inv, keys.EXTERNAL_ID_SK)],
                                                             consistent_read=True)}
        invoice = found.get(inv)
        return (found[pat].patient_id if pat in found else None,
                (invoice.patient_id, invoice.invoice_id) if invoice is not None else None)

    def claim_patient_id(self, clinic_id: str, external_id: str, patient_id: str) -> None:
        """Stage taking the external id: the transaction fails (`external_id`) if it is taken."""
        self._tx.create(ExternalIdRecord(keys.external_id_pk(clinic_id, PATIENT, external_id), keys.EXTERNAL_ID_SK,
                                         external_id=external_id, patient_id=patient_id), label="external_id")

    def release_patient_id(self, clinic_id: str, external_id: str, patient_id: str) -> None:
        """Stage giving the external id up (only if this patient holds it)."""
        self._tx.delete(ExternalIdRecord(keys.external_id_pk(clinic_id, PATIENT, external_id), keys.EXTERNAL_ID_SK),
                        label="external_id_released", condition=ExternalIdRecord.patient_id == patient_id)

    def claim_invoice_id(self, clinic_id: str, external_id: str, patient_id: str, invoice_id: str) -> None:
        self._tx.create(ExternalIdRecord(keys.external_id_pk(clinic_id, INVOICE, external_id), keys.EXTERNAL_ID_SK,
                                         external_id=external_id, patient_id=patient_id, invoice_id=invoice_id),
                        label="external_id")

    # ----- search --------------------------------------------------------------------------
    def index_patient(self, clinic_id: str, before: acc.Patient | None, after: acc.Patient) -> int:
        """Stage the search items that change from `before` to `after` (deletes and puts); returns
        how many were staged (a renamed patient moves every item: its sort key is the name)."""
        old = _search_items(clinic_id, before) if before is not None else {}
        new = _search_items(clinic_id, after)
        for key in sorted(old.keys() - new.keys()):
            self._tx.delete(old[key], label="search")
        for key in sorted(new.keys() - old.keys()):
            self._tx.save(new[key], label="search")
        return len(old.keys() ^ new.keys())

    def search(self, clinic_id: str, query: terms.SearchQuery, limit: int,
               after: tuple[str, str] | None) -> tuple[list[acc.Patient], tuple[str, str] | None]:
        """Up to `limit` patients the query finds, by name, strictly after the result `after`, and
        where the next page continues (None at the end). A one-word query (or a phone, an email)
        is one Query reading at most limit + 1 items and one BatchGetItem of the patients."""
        pk = keys.search_pk(clinic_id, query.kind, query.term)
        condition = None
        for word in [*query.also, *([query.longer] if query.longer else [])]:
            part = SearchRecord.words.contains(" " + word)
            condition = part if condition is None else condition & part
        range_key = Record.sk > keys.search_sk(*after) if after else None
        found: list[SearchRecord] = []
        start_key = None
        for calls in range(FILTER_MAX_QUERIES):
            want = limit + 1 - len(found)
            size = want if condition is None else max(want, (limit + 1) * 2 ** calls)
            result = Record.query(pk, range_key, filter_condition=condition, page_size=min(size, 1000),
                                  last_evaluated_key=start_key)
            raw = next(result.page_iter)
            found.extend(r for r in (Record.from_raw_data(i) for i in raw.get("Items", []))
                         if isinstance(r, SearchRecord))
            start_key = raw.get("LastEvaluatedKey")
            if len(found) > limit or start_key is None:
                break
        page = found[:limit]
        if len(found) > limit:
            resume = page[-1].sk
        elif start_key is not None:  # a short page of a filtered query: go on after the last item read
            resume = start_key["sk"]["S"]
        else:
            resume = None
        patients = self._patients(clinic_id, [r.patient_id for r in page])
        listed = [patients[r.patient_id] for r in page if r.patient_id in patients]
        if resume is None:
            return listed, None
        name, patient_id = resume.rsplit("#", 1)
        return listed, (name, patient_id)

    @staticmethod
    def _patients(clinic_id: str, patient_ids: list[str]) -> dict[str, acc.Patient]:
        if not patient_ids:
            return {}
        return {r.patient_id: patient_from(r) for r in PatientRecord.batch_get(
            [(keys.patient_pk(clinic_id, pid), keys.PROFILE) for pid in dict.fromkeys(patient_ids)])}
