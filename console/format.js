// Money in the clinic's currency and times in the clinic's time zone. Amounts stay integer minor
// units everywhere; they become text only here, and typed text becomes minor units only here.

export class FormError extends Error {
  constructor(message, fields = {}) {
    super(message);
    this.fields = fields;
  }
}

const LABELS = {
  open: 'Open', promised: 'Promised', payment_plan: 'Payment plan', closed: 'Closed', written_off: 'Written off',
  phone: 'Phone', email: 'Email', sms: 'SMS', in_person: 'In person',
  no_answer: 'No answer', promised_payment: 'Promised payment', dispute: 'Dispute', hung_up: 'Hung up',
  refused: 'Refused', no_payment_despite_promise: 'No payment despite promise',
  cash: 'Cash', card: 'Card', check: 'Check', bank_transfer: 'Bank transfer', other: 'Other',
  scheduled: 'Scheduled', done: 'Done', cancelled: 'Cancelled', invoiced: 'Invoiced', paid: 'Paid',
  in_plan: 'In plan', active: 'Active', completed: 'Completed', manual: 'Manual', plan: 'Plan',
  callback: 'Callback', installment: 'Installment', promise: 'Promise', weekly: 'Weekly', monthly: 'Monthly',
  invoice: 'Invoice', payment: 'Payment', write_off: 'Write-off',
  Owner: 'Owner', Admin: 'Admin', BillingStaff: 'Billing staff',
  on_hold: 'On hold', void: 'Void', adjustment: 'Adjustment', payment_reversal: 'Payment reversal',
  plan_remainder: 'Plan remainder', insurance_pending: 'Insurance pending', hardship: 'Hardship',
  returned: 'Returned', chargeback: 'Chargeback', entered_in_error: 'Entered in error',
};

export function label(code) {
  return LABELS[code] || String(code ?? '').replaceAll('_', ' ');
}

/** A list of codes as [value, label] options for select(). */
export function choices(codes) {
  return codes.map((code) => [code, label(code)]);
}

const YMD = /^(\d{4})-(\d{2})-(\d{2})$/;

export function ymdToUtcDate(ymd) {
  const m = YMD.exec(ymd || '');
  if (!m) return null;
  return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
}

export function utcDateToYmd(date) {
  return date.toISOString().slice(0, 10);
}

export class Formatter {
  /** clinic: {currency, timezone}; locale: the reader's language (formats only, never the zone). */
  constructor(clinic, locale = undefined) {
    this.currency = clinic.currency;
    this.timeZone = clinic.timezone;
    this.locale = locale;
    this.moneyFormat = new Intl.NumberFormat(locale, { style: 'currency', currency: this.currency });
    // The currency's own minor-unit digits (2 for USD, 0 for JPY, 3 for KWD): the only place
    // that says how many minor units make one major unit.
    this.digits = this.moneyFormat.resolvedOptions().maximumFractionDigits;
    this.unit = 10 ** this.digits;
    this.symbol = (this.moneyFormat.formatToParts(0).find((p) => p.type === 'currency') || {}).value || '';
    // A calendar date from the API is already the clinic's; show it as is (UTC, no shift).
    this.dateFormat = new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeZone: 'UTC' });
    this.instantFormat = new Intl.DateTimeFormat(locale, {
      dateStyle: 'medium', timeStyle: 'short', timeZone: this.timeZone,
    });
    this.timeFormat = new Intl.DateTimeFormat(locale, { timeStyle: 'short', timeZone: this.timeZone });
    this.zoneName = (new Intl.DateTimeFormat(locale, { timeZone: this.timeZone, timeZoneName: 'short' })
      .formatToParts(new Date()).find((p) => p.type === 'timeZoneName') || {}).value || this.timeZone;
    this.ymdParts = new Intl.DateTimeFormat('en-CA', {
      timeZone: this.timeZone, year: 'numeric', month: '2-digit', day: '2-digit',
    });
  }

  /** 12345 -> "$123.45", 1500 -> "¥1,500" (display only; the integer is what gets sent). */
  money(cents) {
    if (cents === null || cents === undefined) return '';
    return this.moneyFormat.format(cents / this.unit);
  }

  /** "85", "85.5", "85.50" or "85,50" -> 8550; anything else throws FormError. No floats. */
  parseAmount(text, fieldName = 'amount_cents') {
    const value = String(text ?? '').trim().replace(this.symbol, '').trim();
    const pattern = this.digits === 0 ? /^(\d{1,12})$/ : new RegExp(`^(\\d{1,12})(?:[.,](\\d{1,${this.digits}}))?$`);
    const m = pattern.exec(value);
    if (!m) {
      const example = this.digits === 0 ? '85' : `85.${'0'.repeat(this.digits)}`;
      throw new FormError(`Enter an amount like ${example}.`, { [fieldName]: `Enter an amount like ${example}.` });
    }
    const whole = Number(m[1]);
    const frac = Number((m[2] || '').padEnd(this.digits, '0') || '0');
    const cents = whole * this.unit + frac;
    if (cents < 1) throw new FormError('The amount must be more than zero.', { [fieldName]: 'Must be more than zero.' });
    if (!Number.isSafeInteger(cents)) throw new FormError('That amount is too large.', { [fieldName]: 'Too large.' });
    return cents;
  }

  /** "2026-03-01" (a clinic-local date) -> "Mar 1, 2026". */
  date(ymd) {
    const d = ymdToUtcDate(ymd);
    return d ? this.dateFormat.format(d) : '';
  }

  /** An instant ("2026-03-01T14:00:00Z") in the clinic's time zone. */
  instant(iso) {
    if (!iso) return '';
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? String(iso) : this.instantFormat.format(d);
  }

  time(iso) {
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? '' : this.timeFormat.format(d);
  }

  /** The clinic-local calendar date of an instant (default: now) as YYYY-MM-DD. */
  localYmd(at = new Date()) {
    const parts = Object.fromEntries(this.ymdParts.formatToParts(at).map((p) => [p.type, p.value]));
    return `${parts.year}-${parts.month}-${parts.day}`;
  }

  today() {
    return this.localYmd(new Date());
  }

  /** A date or an instant, whichever the API gave (next_action.due is either). */
  dateOrInstant(value) {
    return YMD.test(value || '') ? this.date(value) : this.instant(value);
  }
}
