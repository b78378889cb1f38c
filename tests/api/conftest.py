import pytest

from chalicelib.store.uow import Transaction
from tests.support import make_clinic


class Crash(BaseException):
    """The process dies here (a timeout, an out-of-memory kill): no handler of the app runs."""

# `aws`, `chalice_client` and `http` are per-module fixtures in tests/conftest.py.


@pytest.fixture
def clinic(http):
    return make_clinic(http)


@pytest.fixture
def other_clinic(http):
    return make_clinic(http, timezone="Europe/Athens", name="Other Clinic")


@pytest.fixture
def crash_commit_of(monkeypatch):
    """`crash_commit_of("staff")`: the process dies just before the transaction that writes an item
    of that label (a staff record, say) is sent (once): nothing of it reaches DynamoDB."""

    def arm(label: str) -> None:
        real = Transaction.send

        def crashing(self):
            if any(item[0] == label for item in self._items):
                monkeypatch.setattr(Transaction, "send", real)
                self.clear()
                raise Crash(label)
            return real(self)

        monkeypatch.setattr(Transaction, "send", crashing)

    return arm
