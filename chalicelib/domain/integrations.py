"""Integration keys and their scopes, and the words a patient is found by (search terms).

Standard library only. A key is `fu_live_` + 43 characters of URL-safe base64 (32 random bytes);
the store keeps only its SHA-256 (docs/integrations.md says why a plain hash is enough).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta

KEY_PREFIX = "fu_live_"
KEY_RANDOM_BYTES = 32
_KEY = re.compile(r"^fu_live_[A-Za-z0-9_-]{43}$")

PATIENTS_READ = "patients:read"
PATIENTS_WRITE = "patients:write"
INVOICES_WRITE = "invoices:write"
PAYMENTS_WRITE = "payments:write"
FOLLOWUPS_READ = "followups:read"
REPORTS_READ = "reports:read"
IMPORTS_WRITE = "imports:write"
WEBHOOKS_MANAGE = "webhooks:manage"
SCOPES = (PATIENTS_READ, PATIENTS_WRITE, INVOICES_WRITE, PAYMENTS_WRITE, FOLLOWUPS_READ, REPORTS_READ,
          IMPORTS_WRITE, WEBHOOKS_MANAGE)

ACTOR_PREFIX = "integration:"
LAST_USED_EVERY = timedelta(seconds=60)  # `last_used_at` is written at most this often


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(KEY_RANDOM_BYTES)


def looks_like_key(token: str | None) -> bool:
    """Business rule: what starts with the prefix is judged as a key (never as a JWT)."""
    return isinstance(token, str) and token.startswith(KEY_PREFIX)


def is_well_formed(key: str) -> bool:
    return bool(_KEY.fullmatch(key))


def key_sha256(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def actor_of(integration_id: str) -> str:
    return ACTOR_PREFIX + integration_id


@dataclass
class Integration:
    """One key of a clinic: what it may do, who made it, whether it still works."""

    integration_id: str
    clinic_id: str
    name: str
    scopes: tuple[str, ...]
    key_sha256: str
    key_hint: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    last_used_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def needs_touch(self, now: datetime) -> bool:
        """Business rule: `last_used_at` moves at most once a minute (no write per request)."""
        return self.last_used_at is None or now - self.last_used_at >= LAST_USED_EVERY


def rate_window(now: datetime) -> datetime:
    """Business rule: a key's requests are counted per clock minute (a fixed window)."""
    return now.replace(second=0, microsecond=0)


def seconds_to_next_window(now: datetime) -> int:
    """Business rule: a refused key may try again when the next minute starts (at least 1 s)."""
    return max(1, 60 - now.second)


# ----- search terms ------------------------------------------------------------------------
MIN_QUERY = 2
MAX_PREFIX = 10  # word prefixes indexed up to this length (and the whole word when longer)
MAX_WORDS = 4  # the first words of a name that are indexed (prefixes of each)


def fold(text: str) -> str:
    """Case- and accent-insensitive form: "José Núñez" -> "jose nunez" (NFKD, marks dropped, casefolded)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def words(text: str) -> list[str]:
    """The folded words of a text, in order, each once."""
    seen: list[str] = []
    for word in re.split(r"[^\w]+|_", fold(text)):
        if word and word not in seen:
            seen.append(word)
    return seen


def sort_name(name: str) -> str:
    """What search results are ordered by: the folded name, words joined by one space."""
    return " ".join(re.split(r"[^\w]+|_", fold(name))).strip()


def digits(text: str | None) -> str:
    return "".join(c for c in (text or "") if c.isascii() and c.isdigit())


def phone_terms(phone: str | None) -> set[str]:
    """A phone is found by all its digits, or by its last 10 (national) or 7 (local) digits."""
    d = digits(phone)
    if len(d) < 4:
        return set()
    return {d, d[-10:], d[-7:]}


def name_terms(name: str) -> set[str]:
    """Business rule: every prefix of 2 to MAX_PREFIX characters of each of the first MAX_WORDS
    words (a longer word is found by its first MAX_PREFIX characters, the rest checked on the
    item's `words`)."""
    terms: set[str] = set()
    for word in words(name)[:MAX_WORDS]:
        terms.update(word[:n] for n in range(MIN_QUERY, min(len(word), MAX_PREFIX) + 1))
    return terms


@dataclass(frozen=True)
class SearchTerms:
    """What a patient can be found by; `kind` + value names one index partition."""

    name: frozenset[str] = field(default_factory=frozenset)
    phone: frozenset[str] = field(default_factory=frozenset)
    email: frozenset[str] = field(default_factory=frozenset)

    def keys(self) -> set[tuple[str, str]]:
        return ({("n", t) for t in self.name} | {("p", t) for t in self.phone} | {("e", t) for t in self.email})


def terms_of(name: str, phone: str | None, email: str | None) -> SearchTerms:
    return SearchTerms(frozenset(name_terms(name)), frozenset(phone_terms(phone)),
                       frozenset({email.strip().casefold()} if email and email.strip() else set()))


@dataclass(frozen=True)
class SearchQuery:
    """What `q` asks for: the one term whose partition is read, and what the rest must contain."""

    kind: str  # "n" name word prefix, "p" phone digits, "e" email
    term: str
    also: tuple[str, ...] = ()  # further name words (prefixes) every result must have
    longer: str | None = None  # the word as typed when longer than the indexed prefix


def parse_query(q: str) -> SearchQuery | None:
    """None: nothing to search for (fewer than 2 meaningful characters)."""
    text = q.strip()
    if "@" in text:
        email = text.casefold()
        return SearchQuery("e", email) if len(email) >= MIN_QUERY else None
    if text and re.fullmatch(r"[\d\s()+.\-/]+", text):
        d = digits(text)
        return SearchQuery("p", d) if len(d) >= 4 else None
    found = [w for w in words(text) if len(w) >= MIN_QUERY]
    if not found:
        return None
    first, rest = found[0], tuple(found[1:])
    if len(first) > MAX_PREFIX:
        return SearchQuery("n", first[:MAX_PREFIX], rest, longer=first)
    return SearchQuery("n", first, rest)


def matches(query: SearchQuery, name: str) -> bool:
    """Business rule: every further word of `q` (and a word longer than the index keeps) is a
    prefix of some word of the name."""
    wanted = [*query.also, *([query.longer] if query.longer else [])]
    have = words(name)
    return all(any(w.startswith(p) for w in have) for p in wanted)
