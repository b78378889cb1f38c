"""Contact rules: whether a patient may be called at an instant, why not, and from when.

The defaults are the figures of the US Regulation F (12 CFR part 1006):
- 12 CFR 1006.6(b)(1)(i): without knowledge to the contrary, a time before 8:00 a.m. and after
  9:00 p.m. local time at the consumer's location is inconvenient: call hours 08:00-21:00 in the
  patient's own time zone (the clinic's when the patient has none);
- 12 CFR 1006.14(b)(2)(i)(A): a collector is presumed to comply when it calls a person about a debt
  not "more than seven times within seven consecutive days" (and presumed to violate when it does):
  at most 7 calls in any 7 consecutive days, so with 7 calls in the window the 8th is blocked;
- 12 CFR 1006.14(b)(2)(i)(B): nor "within a period of seven consecutive days after having had a
  telephone conversation ... The date of the telephone conversation is the first day of the
  seven-consecutive-day period": 7 quiet days after a conversation;
- 12 CFR 1006.14(h)(1): no communication through a medium the person asked the collector not to
  use: the patient's `do_not_contact` channels (phone there blocks calls, SMS stays allowed).
A clinic may choose other figures (`ContactPolicy`, on `PATCH /clinic`); the rules stay the same.

Boundaries, decided here and tested in tests/unit/test_contact_rules.py:
- Call hours are wall-clock times in the patient's zone, `start` inclusive and `end` exclusive
  (07:59 no, 08:00 yes, 20:59 yes, 21:00 no); `start` < `end`, so a window never crosses midnight.
  On a DST day the wall clock decides: after a spring-forward jump the first callable instant is
  the first one whose local time is in the window; in a fall-back overlap a repeated local time is
  read as it happens (both occurrences count). Every instant returned is a real UTC instant.
- Days are the patient's local calendar days, counted as Regulation F counts them: "the last 7
  days" at an instant is its local date and the 6 before it; a conversation's local date is day 1
  of its quiet period, so with 7 quiet days a conversation on Monday blocks through Sunday and the
  patient is callable again from the first instant of the next Monday (then call hours apply).
  The cap frees on the first instant of the local date 7 days after the call that must drop out.
- Who counts: a phone attempt by a staff member counts toward the cap; a conversation is a phone
  attempt whose outcome is not `no_answer` (the contract, literally: `hung_up`, `refused`,
  `dispute`, ... are conversations; a future "left voicemail" outcome would belong in
  `NOT_CONVERSATIONS`, a limited-content message being an attempt, not a conversation, in Reg F).
  The scheduled run's `system` attempts (a broken promise) are bookkeeping, not calls: never counted.
- A hold blocks through its `until` date (a clinic-local date, as every date of the contract), to
  the first instant of the clinic-local day after it.

Nothing here reads the clock or the store: callers pass `now` and what the follow-up row keeps
(`ContactFacts`, maintained by `remember_attempt` in the transaction that logs an attempt).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta

from . import clock
from .errors import Conflict, ValidationError
from .roles import SYSTEM

# The rules, in the fixed order `blocked_by` lists them (the contract's order).
DO_NOT_CONTACT = "do_not_contact"
OUTSIDE_CALL_HOURS = "outside_call_hours"
CALL_CAP = "call_cap"
RECENT_CONVERSATION = "recent_conversation"
ON_HOLD = "on_hold"
RULES = (DO_NOT_CONTACT, OUTSIDE_CALL_HOURS, CALL_CAP, RECENT_CONVERSATION, ON_HOLD)

PHONE, IN_PERSON = "phone", "in_person"
NOT_CONVERSATIONS = frozenset({"no_answer"})  # phone outcomes that are not a conversation
CAP_WINDOW_DAYS = 7  # "within seven consecutive days": fixed by the regulation, not a setting

# What a policy may say (validated on PATCH /clinic).
MAX_CALLS_RANGE = (1, 50)
QUIET_DAYS_RANGE = (0, 30)

# What the follow-up row keeps: enough phone attempts for any policy the clinic may choose (the
# largest cap), and none older than the cap's window can reach, with a day to spare for a patient
# whose time zone changes (local dates move by at most a day).
KEEP_CALLS = MAX_CALLS_RANGE[1]
KEEP_FOR = timedelta(days=CAP_WINDOW_DAYS + 1)

_HHMM = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]", re.ASCII)
# An `end` of "24:00" is midnight at the end of the day (ISO 8601): with a start of 00:00, no hour
# is outside. `time` has no 24:00, so the last instant of the day stands in. The policy and the
# store hold it; PATCH /clinic still refuses "24:00", as the contract's HH:MM was read so far
# (clinics made by the tests use it: with an end of 23:59, the minute before midnight is outside).
END_OF_DAY = time.max


def parse_hhmm(text: object, *, end: bool = False) -> time:
    """`HH:MM`, 00:00-23:59, exactly (no seconds, no `8:00`); an `end` may also be `24:00`."""
    if end and text == "24:00":
        return END_OF_DAY
    if not isinstance(text, str) or not _HHMM.fullmatch(text):
        raise ValueError("must be a local time HH:MM (00:00-23:59" + (", or 24:00)" if end else ")"))
    return time(int(text[:2]), int(text[3:]))


def _hhmm(t: time) -> str:
    return "24:00" if t == END_OF_DAY else f"{t.hour:02d}:{t.minute:02d}"


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# ----- the clinic's policy -----------------------------------------------------------------
@dataclass(frozen=True)
class ContactPolicy:
    """The clinic's contact policy; the defaults are Regulation F's (module docstring)."""

    call_start: time = time(8, 0)
    call_end: time = time(21, 0)  # exclusive: 21:00 itself is outside; END_OF_DAY: until midnight
    max_calls_per_7_days: int = 7
    quiet_days_after_conversation: int = 7

    def __post_init__(self):
        """Business rule: call hours are whole minutes with start before end (a window never
        crosses midnight); 1-50 calls in 7 days; 0-30 quiet days (0: no quiet period)."""
        problems: dict[str, str] = {}
        for name, value in (("start", self.call_start), ("end", self.call_end)):
            if name == "end" and value == END_OF_DAY:
                continue
            if not isinstance(value, time) or value.tzinfo is not None or value.second or value.microsecond:
                problems[f"contact_policy.call_hours.{name}"] = "must be a local time HH:MM"
        if not problems and self.call_start >= self.call_end:
            problems["contact_policy.call_hours.end"] = "must be after start (call hours do not cross midnight)"
        for name, value, (low, high) in (("max_calls_per_7_days", self.max_calls_per_7_days, MAX_CALLS_RANGE),
                                         ("quiet_days_after_conversation", self.quiet_days_after_conversation,
                                          QUIET_DAYS_RANGE)):
            if not _whole(value) or not low <= value <= high:
                problems[f"contact_policy.{name}"] = f"must be a whole number from {low} to {high}"
        if problems:
            raise ValidationError("invalid contact policy", fields=problems)

    def changed(self, *, call_start: time | None = None, call_end: time | None = None,
                max_calls_per_7_days: int | None = None,
                quiet_days_after_conversation: int | None = None) -> ContactPolicy:
        """A partial update: what is given replaces, the rest stays (validated as a whole)."""
        given = {"call_start": call_start, "call_end": call_end, "max_calls_per_7_days": max_calls_per_7_days,
                 "quiet_days_after_conversation": quiet_days_after_conversation}
        return replace(self, **{k: v for k, v in given.items() if v is not None})

    def as_dict(self) -> dict:
        """The contract's shape (GET /clinic, the audit, the stored map)."""
        return {"call_hours": {"start": _hhmm(self.call_start), "end": _hhmm(self.call_end)},
                "max_calls_per_7_days": self.max_calls_per_7_days,
                "quiet_days_after_conversation": self.quiet_days_after_conversation}

    @classmethod
    def from_dict(cls, data: dict | None) -> ContactPolicy:
        """What `as_dict` wrote; None (never set) is the defaults."""
        if not data:
            return cls()
        hours = data.get("call_hours") or {}
        return cls(parse_hhmm(hours["start"]), parse_hhmm(hours["end"], end=True), int(data["max_calls_per_7_days"]),
                   int(data["quiet_days_after_conversation"]))

    def in_call_hours(self, wall: time) -> bool:
        return self.call_start <= wall and (self.call_end == END_OF_DAY or wall < self.call_end)


DEFAULT_POLICY = ContactPolicy()


# ----- what the rules need of a patient ----------------------------------------------------
@dataclass(frozen=True)
class ContactFacts:
    """What the follow-up row keeps for the rules, so a worklist row needs no other read.

    `phone_attempts`: the recent counted phone attempts as (at, outcome), oldest first (bounded by
    `remember_attempt`); `last_conversation_at`: the latest conversation, however old (it may be
    older than every kept attempt); `hold_until`: the active hold's `until` (clinic-local date)."""

    timezone: str | None = None  # the patient's IANA zone; None: the clinic's
    do_not_contact: frozenset[str] = frozenset()
    phone_attempts: tuple[tuple[datetime, str], ...] = ()
    last_conversation_at: datetime | None = None
    hold_until: date | None = None

    def zone(self, clinic_tz: str) -> str:
        return self.timezone or clinic_tz

    def conversations(self) -> Iterable[datetime]:
        if self.last_conversation_at is not None:
            yield self.last_conversation_at
        yield from (at for at, outcome in self.phone_attempts if outcome not in NOT_CONVERSATIONS)

    def as_stored(self) -> dict:
        """A JSON-able map for the follow-up row (instants as `clock.iso_z`, dates ISO)."""
        return {"timezone": self.timezone, "do_not_contact": sorted(self.do_not_contact),
                "phone_attempts": [[clock.iso_z(at), outcome] for at, outcome in self.phone_attempts],
                "last_conversation_at": clock.iso_z(self.last_conversation_at) if self.last_conversation_at else None,
                "hold_until": self.hold_until.isoformat() if self.hold_until else None}

    @classmethod
    def from_stored(cls, data: dict | None) -> ContactFacts:
        if not data:
            return cls()
        conversation = data.get("last_conversation_at")
        hold = data.get("hold_until")
        return cls(data.get("timezone"), frozenset(data.get("do_not_contact") or ()),
                   tuple((clock.parse_iso_z(at), outcome) for at, outcome in data.get("phone_attempts") or ()),
                   clock.parse_iso_z(conversation) if conversation else None,
                   date.fromisoformat(hold) if hold else None)


def counts_as_call(channel: str, by: str) -> bool:
    """Business rule: a phone attempt by a staff member is a call; the scheduled run's attempts
    (a promise marked broken) record bookkeeping, not a call."""
    return channel == PHONE and by != SYSTEM


def remember_attempt(facts: ContactFacts, *, at: datetime, channel: str, outcome: str, by: str) -> ContactFacts:
    """The row's facts after an attempt is logged (pure; stored in the attempt's transaction).

    Business rule: keep the newest `KEEP_CALLS` calls within `KEEP_FOR` of the newest one (no
    policy can count more, or older ones) and the latest conversation."""
    if not counts_as_call(channel, by):
        return facts
    at = clock.as_utc(at)
    calls = sorted((*facts.phone_attempts, (at, outcome)))
    newest = calls[-1][0]
    kept = tuple(c for c in calls if c[0] > newest - KEEP_FOR)[-KEEP_CALLS:]
    conversation = facts.last_conversation_at
    if outcome not in NOT_CONVERSATIONS and (conversation is None or at > conversation):
        conversation = at
    return replace(facts, phone_attempts=kept, last_conversation_at=conversation)


# ----- one rule at a time --------------------------------------------------------------------
@dataclass(frozen=True)
class Check:
    """One rule at one instant: whether it blocks, and `clears_at`, the first instant from which
    it no longer does (`now` itself when it does not block; None when only the patient's own
    preference can clear it: `do_not_contact`)."""

    rule: str
    blocks: bool
    clears_at: datetime | None


def _clear(rule: str, now: datetime) -> Check:
    return Check(rule, False, now)


def _until(rule: str, now: datetime, clears_at: datetime | None) -> Check:
    """A rule that blocks up to a fixed instant: blocking exactly while `now` < `clears_at`
    (never when there is none)."""
    return Check(rule, True, clears_at) if clears_at is not None and now < clears_at else _clear(rule, now)


def do_not_contact(policy: ContactPolicy, clinic_tz: str, facts: ContactFacts, now: datetime, *,
                   channel: str = PHONE) -> Check:
    """Business rule: a channel among the patient's `do_not_contact` is never used (until the
    patient changes it); phone there blocks calls, not SMS."""
    return Check(DO_NOT_CONTACT, True, None) if channel in facts.do_not_contact else _clear(DO_NOT_CONTACT, now)


def outside_call_hours(policy: ContactPolicy, clinic_tz: str, facts: ContactFacts, now: datetime) -> Check:
    """Business rule: calls only while the patient's wall clock reads start <= time < end."""
    now = clock.as_utc(now)
    tz = facts.zone(clinic_tz)
    if policy.in_call_hours(now.astimezone(clock.zone(tz)).time()):
        return _clear(OUTSIDE_CALL_HOURS, now)
    return Check(OUTSIDE_CALL_HOURS, True, next_in_call_hours(policy, tz, now))


def cap_clears_at(policy: ContactPolicy, clinic_tz: str, facts: ContactFacts) -> datetime | None:
    """When the cap stops blocking, whatever the instant asked about (None: it never blocks)."""
    if len(facts.phone_attempts) < policy.max_calls_per_7_days:
        return None
    tz = facts.zone(clinic_tz)
    dates = sorted((clock.local_date(at, tz) for at, _ in facts.phone_attempts), reverse=True)
    drops_out = dates[policy.max_calls_per_7_days - 1]
    return clock.start_of_local_day(drops_out + timedelta(days=CAP_WINDOW_DAYS), tz)


def call_cap(policy: ContactPolicy, clinic_tz: str, facts: ContactFacts, now: datetime) -> Check:
    """Business rule: with `max_calls_per_7_days` calls on the patient's local date and the 6
    before it, no other call that day; the cap frees on the first instant of the local date 7
    days after the oldest call that must drop out of the window."""
    return _until(CALL_CAP, now, cap_clears_at(policy, clinic_tz, facts))


def conversation_clears_at(policy: ContactPolicy, clinic_tz: str, facts: ContactFacts) -> datetime | None:
    latest = max(facts.conversations(), default=None)
    if latest is None or policy.quiet_days_after_conversation == 0:
        return None
    tz = facts.zone(clinic_tz)
    resumes = clock.local_date(latest, tz) + timedelta(days=policy.quiet_days_after_conversation)
    return clock.start_of_local_day(resumes, tz)


def recent_conversation(policy: ContactPolicy, clinic_tz: str, facts: ContactFacts, now: datetime) -> Check:
    """Business rule: a conversation's local date is day 1 of `quiet_days_after_conversation`
    quiet days; calls resume on the first instant of the local date after them."""
    return _until(RECENT_CONVERSATION, now, conversation_clears_at(policy, clinic_tz, facts))


def hold_clears_at(policy: ContactPolicy, clinic_tz: str, facts: ContactFacts) -> datetime | None:
    return clock.end_of_local_day(facts.hold_until, clinic_tz) if facts.hold_until is not None else None


def on_hold(policy: ContactPolicy, clinic_tz: str, facts: ContactFacts, now: datetime) -> Check:
    """Business rule: a patient on hold is not chased through the hold's `until` date
    (clinic-local), up to the first instant of the clinic-local day after it."""
    return _until(ON_HOLD, now, hold_clears_at(policy, clinic_tz, facts))


Rule = Callable[[ContactPolicy, str, ContactFacts, datetime], Check]
TIME_BOUND: tuple[Rule, ...] = (outside_call_hours, call_cap, recent_conversation, on_hold)
ALL_RULES: tuple[Rule, ...] = (do_not_contact, *TIME_BOUND)


# ----- the whole state -------------------------------------------------------------------------
@dataclass(frozen=True)
class ContactState:
    """The contract's `contact`: `next_call_at` is `now` when callable now, the first callable
    instant after it when a time-bound rule blocks, None when `do_not_contact` does."""

    call_now: bool
    blocked_by: tuple[str, ...] = field(default=())
    next_call_at: datetime | None = None


def contact_state(policy: ContactPolicy, clinic_tz: str, facts: ContactFacts, now: datetime) -> ContactState:
    """Business rule: a patient may be called now when no rule blocks; `blocked_by` lists the
    rules that do, in `RULES` order."""
    now = clock.as_utc(now)
    checks = [rule(policy, clinic_tz, facts, now) for rule in ALL_RULES]
    blocked_by = tuple(c.rule for c in checks if c.blocks)
    if not blocked_by:
        return ContactState(True, (), now)
    if DO_NOT_CONTACT in blocked_by:
        return ContactState(False, blocked_by, None)
    return ContactState(False, blocked_by, next_call_at(policy, clinic_tz, facts, now))


def callable_at(policy: ContactPolicy, clinic_tz: str, facts: ContactFacts, instant: datetime) -> bool:
    instant = clock.as_utc(instant)
    return not any(rule(policy, clinic_tz, facts, instant).blocks for rule in ALL_RULES)


_MAX_ROUNDS = 8  # the fixed instants are passed in one round, the hours in the next: 3 always suffice
FIXED_UNTIL = (cap_clears_at, conversation_clears_at, hold_clears_at)  # the rules that block up to an instant


def next_call_at(policy: ContactPolicy, clinic_tz: str, facts: ContactFacts, after: datetime) -> datetime:
    """The first instant at or after `after` when no time-bound rule blocks (ignoring
    `do_not_contact`): move past every fixed instant still ahead (the cap, the quiet days, the
    hold), then to the next call hours, and again until nothing blocks. The cap may free on a
    Monday 00:00, the hours push that to 08:00, which may still be in a quiet period... The
    fixed instants do not depend on the instant asked about, so they are worked out once."""
    t = clock.as_utc(after)
    untils = [u for u in (f(policy, clinic_tz, facts) for f in FIXED_UNTIL) if u is not None]
    tz = facts.zone(clinic_tz)
    for _ in range(_MAX_ROUNDS):
        ahead = [u for u in untils if t < u]
        if ahead:
            t = max(ahead)
            continue
        opens = next_in_call_hours(policy, tz, t)
        if opens == t:
            return t
        t = opens
    raise RuntimeError("contact rules did not settle on an instant")  # a bug: the rounds are bounded


# ----- an attempt being logged; a callback being scheduled -----------------------------------------
def rule_flags(policy: ContactPolicy, clinic_tz: str, facts: ContactFacts, attempt_at: datetime,
               channel: str, *, by: str | None = None) -> tuple[str, ...]:
    """Business rule: which rules an attempt broke, judged on the facts before it. Only calls
    (phone) are held to call hours, the cap and the quiet period; any channel the patient listed
    in `do_not_contact` breaks that rule; any contact but in person (the patient came to the desk)
    breaks a hold. The scheduled run's attempts (`by` system: a promise marked broken at 03:00)
    contacted nobody and break nothing."""
    if by == SYSTEM:
        return ()
    attempt_at = clock.as_utc(attempt_at)
    checks = [do_not_contact(policy, clinic_tz, facts, attempt_at, channel=channel)]
    if channel == PHONE:
        checks += [rule(policy, clinic_tz, facts, attempt_at) for rule in (outside_call_hours, call_cap,
                                                                          recent_conversation)]
    if channel != IN_PERSON:
        checks.append(on_hold(policy, clinic_tz, facts, attempt_at))
    flagged = {c.rule for c in checks if c.blocks}
    return tuple(rule for rule in RULES if rule in flagged)


def callback_blocked(policy: ContactPolicy, clinic_tz: str, facts: ContactFacts, due_at: datetime) -> ContactState:
    """Business rule: a callback is a call planned for `due_at`: the rules are judged at `due_at`
    on what is known now. `call_now` false: the service answers 409 `contact_rule`
    (`ContactRuleBlocked`) unless the request gives an `override_reason`."""
    return contact_state(policy, clinic_tz, facts, due_at)


RULE_MESSAGES = {
    DO_NOT_CONTACT: "the patient asked not to be called",
    OUTSIDE_CALL_HOURS: "outside the call hours in the patient's time zone",
    CALL_CAP: "the maximum number of calls in 7 days is reached",
    RECENT_CONVERSATION: "within the quiet days after a conversation",
    ON_HOLD: "the follow-up is on hold",
}


class ContactRuleBlocked(Conflict):
    """A callback due when a contact rule blocks a call, without an `override_reason`: 409
    `contact_rule`, `fields` naming the rules, `next_call_at` (None: only the patient's
    preference can clear it) for the error body."""

    code = "contact_rule"

    def __init__(self, state: ContactState):
        super().__init__("a contact rule blocks a call at due_at",
                         fields={rule: RULE_MESSAGES[rule] for rule in state.blocked_by})
        self.blocked_by = state.blocked_by
        self.next_call_at = state.next_call_at

    def extra(self) -> dict:
        """The error body's `next_call_at`: when a callback could be scheduled without an override."""
        return {"blocked_by": list(self.blocked_by),
                "next_call_at": clock.short_z(self.next_call_at) if self.next_call_at else None}


OVERRIDE_REASON_LENGTH = (3, 200)


def check_override_reason(reason: str | None) -> str | None:
    """Business rule: an override says why in 3-200 characters (surrounding blanks do not count)."""
    if reason is None:
        return None
    low, high = OVERRIDE_REASON_LENGTH
    if not isinstance(reason, str) or not low <= len(reason.strip()) <= high:
        raise ValidationError("invalid override_reason",
                              fields={"override_reason": f"{low}-{high} characters saying why"})
    return reason.strip()


def judge_callback(policy: ContactPolicy, clinic_tz: str, facts: ContactFacts, due_at: datetime,
                   override_reason: str | None) -> tuple[str, ...]:
    """Business rule: a callback due when a rule blocks a call is refused (`ContactRuleBlocked`)
    unless an override reason is given; returns the rules it overrides (empty: none blocked)."""
    state = callback_blocked(policy, clinic_tz, facts, due_at)
    if state.call_now:
        return ()
    if override_reason is None:
        raise ContactRuleBlocked(state)
    return state.blocked_by


# ----- what other changes of the patient tell the rules ---------------------------------------
# ----- call hours on the patient's wall clock ------------------------------------------------
_PROBE = timedelta(hours=6)  # no zone changes its offset twice within 6 hours


def _offset(instant: datetime, tz) -> timedelta:
    return instant.astimezone(tz).utcoffset()


def _first_offset_change(t: datetime, until: datetime, tz) -> datetime | None:
    """The first whole-second instant in (`t`, `until`] whose UTC offset differs from `t`'s, or
    None. Transitions fall on whole seconds, so `t` floored keeps its offset."""
    lo = t.replace(microsecond=0)
    offset = _offset(lo, tz)
    while lo < until:
        hi = min(lo + _PROBE, until)
        if _offset(hi, tz) != offset:
            low, high = 0, int((hi - lo).total_seconds())  # lo + low has the offset, lo + high does not
            if lo + timedelta(seconds=high) != hi:  # `until` not on a whole second
                high += 1
            while high - low > 1:
                mid = (low + high) // 2
                if _offset(lo + timedelta(seconds=mid), tz) == offset:
                    low = mid
                else:
                    high = mid
            return lo + timedelta(seconds=high)
        lo = hi
    return None


def next_in_call_hours(policy: ContactPolicy, tz_name: str, after: datetime) -> datetime:
    """The first instant at or after `after` whose wall-clock time in `tz_name` is within call
    hours. While the offset holds, the wall clock is `instant + offset`, so the answer is `after`
    itself or the next `start` on that clock; if the offset changes before that, look again from
    the change (a spring-forward jump may land inside the hours, a fall-back repeat the start)."""
    tz = clock.zone(tz_name)
    t = clock.as_utc(after)
    for _ in range(64):
        offset = _offset(t, tz)
        wall = (t + offset).replace(tzinfo=None)
        if policy.in_call_hours(wall.time()):
            return t
        day = wall.date() if wall.time() < policy.call_start else wall.date() + timedelta(days=1)
        candidate = (datetime.combine(day, policy.call_start) - offset).replace(tzinfo=UTC)
        change = _first_offset_change(t, candidate, tz)
        if change is None:
            return candidate
        t = change
    raise RuntimeError("no call hours found")  # a bug: an offset changes at most a few times a day
