// The payment-plan schedule, computed in the browser for the live preview. It mirrors the
// server's rule (chalicelib/domain/plans.py build_schedule; a browser test compares the two):
// every installment is `installment_cents` but the last, which takes the remainder; monthly keeps
// the start day, clamped to short months; weekly adds 7 days.

import { utcDateToYmd, ymdToUtcDate } from './format.js';

// The most installments a plan may have. /openapi.json does not state it, so this is the console's
// one copy; its server-side twin is chalicelib/domain/plans.py MAX_INSTALLMENTS (the browser test
// of the preview imports that one and checks the refusal names the same number).
export const MAX_INSTALLMENTS = 120;

function daysInMonth(year, monthIndex) {
  return new Date(Date.UTC(year, monthIndex + 1, 0)).getUTCDate();
}

/** Business rule: monthly keeps the start day, clamped to short months (31 Jan -> 28/29 Feb). */
export function addMonths(startYmd, months) {
  const start = ymdToUtcDate(startYmd);
  const index = start.getUTCMonth() + months;
  const year = start.getUTCFullYear() + Math.floor(index / 12);
  const month = ((index % 12) + 12) % 12;
  const day = Math.min(start.getUTCDate(), daysInMonth(year, month));
  return utcDateToYmd(new Date(Date.UTC(year, month, day)));
}

export function addDays(startYmd, days) {
  const start = ymdToUtcDate(startYmd);
  return utcDateToYmd(new Date(start.getTime() + days * 86400000));
}

/** ceil(total / installment) with integers only. */
export function installmentCount(totalCents, installmentCents) {
  let q = Math.floor(totalCents / installmentCents);
  while (q * installmentCents < totalCents) q += 1;
  while (q > 1 && (q - 1) * installmentCents >= totalCents) q -= 1;
  return q;
}

export class ScheduleError extends Error {}

/** Business rule: every installment is `installmentCents`; the last takes the remainder. */
export function buildSchedule(totalCents, installmentCents, frequency, startYmd) {
  if (!Number.isSafeInteger(totalCents) || totalCents <= 0) throw new ScheduleError('Nothing is owed.');
  if (!Number.isSafeInteger(installmentCents) || installmentCents <= 0) {
    throw new ScheduleError('The installment must be more than zero.');
  }
  if (frequency !== 'weekly' && frequency !== 'monthly') throw new ScheduleError('Choose weekly or monthly.');
  if (!ymdToUtcDate(startYmd)) throw new ScheduleError('Choose a start date.');
  const count = installmentCount(totalCents, installmentCents);
  if (count > MAX_INSTALLMENTS) {
    throw new ScheduleError(`That makes ${count} installments; a plan has at most ${MAX_INSTALLMENTS}.`);
  }
  const schedule = [];
  for (let i = 0; i < count; i += 1) {
    const due = frequency === 'weekly' ? addDays(startYmd, 7 * i) : addMonths(startYmd, i);
    const amount = i < count - 1 ? installmentCents : totalCents - installmentCents * (count - 1);
    schedule.push({ number: i + 1, due_date: due, amount_cents: amount });
  }
  return schedule;
}
