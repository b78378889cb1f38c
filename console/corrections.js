// Corrections and holds on the patient panel: void or adjust an invoice, reverse a payment,
// change or cancel the plan (with the conversion's schedule preview), put on hold and release.
// Each dialog is the confirmation where money moves: it names the amount, and the announcement
// after it gives the new balance.

import { announce, clear, field, formDialog, h, select } from './dom.js';
import { choices, FormError, label } from './format.js';
import { addDays, buildSchedule, ScheduleError } from './schedule.js';

/** Minor units as the text an amount field takes (1500 -> "15.00"). */
function amountText(fmt, cents) {
  return fmt.digits ? (cents / fmt.unit).toFixed(fmt.digits) : String(cents);
}

function reasonField(hint = '3 to 500 characters; kept in the audit trail.') {
  return field('Reason', h('textarea', { rows: '2', minlength: '3', maxlength: '500', required: true }), { hint });
}

function reasonText(control) {
  const text = control.value.trim();
  if (text.length < 3 || text.length > 500) {
    throw new FormError('Give a reason of 3 to 500 characters.', { reason: '3 to 500 characters.' });
  }
  return text;
}

function newBalance(fmt, cents, status) {
  return `New balance: ${fmt.money(cents)}${status ? ` (${label(status)})` : ''}.`;
}

/** Whether the invoice row offers Void and Adjust (Owner/Admin; the server decides the rest). */
export function correctable(ctx, invoice) {
  return ctx.isOwnerOrAdmin && invoice.status === 'open' && invoice.balance_cents > 0 && invoice.source !== 'plan';
}

export async function voidInvoice(ctx, invoice, reload) {
  const { api, fmt } = ctx;
  const done = await formDialog({
    title: 'Void invoice',
    submitLabel: `Void ${fmt.money(invoice.balance_cents)}`,
    danger: true,
    build(form) {
      const reason = reasonField();
      form.append(h('p', { class: 'warning' }, `This voids the invoice of ${fmt.date(invoice.invoice_date)}: `
        + `${fmt.money(invoice.balance_cents)} comes off the balance. Only an invoice no payment went to can be voided.`),
      reason.wrap);
      this.controls = { reason };
      return { reason };
    },
    async submit() {
      return api.post(`/invoices/${encodeURIComponent(invoice.invoice_id)}/void`, { reason: reasonText(this.controls.reason.control) });
    },
  });
  if (done) {
    announce(`Invoice voided. ${newBalance(fmt, done.patient_balance_cents, done.follow_up_status)}`);
    await reload();
  }
}

export async function adjustInvoice(ctx, invoice, reload) {
  const { api, fmt } = ctx;
  const done = await formDialog({
    title: 'Adjust invoice',
    submitLabel: 'Adjust invoice',
    build(form) {
      const amount = field('Amount off', h('input', { type: 'text', inputmode: 'decimal', autocomplete: 'off', required: true }),
        { hint: `Up to the invoice's balance, ${fmt.money(invoice.balance_cents)}` });
      const reason = reasonField('A discount or a correction, 3 to 500 characters.');
      form.append(h('p', {}, `Lowers the invoice of ${fmt.date(invoice.invoice_date)} (${fmt.money(invoice.balance_cents)} open).`),
        amount.wrap, reason.wrap);
      this.controls = { amount, reason };
      return { amount_cents: amount, reason };
    },
    async submit() {
      const cents = fmt.parseAmount(this.controls.amount.control.value, 'amount_cents');
      if (cents > invoice.balance_cents) {
        throw new FormError(`At most the invoice's balance, ${fmt.money(invoice.balance_cents)}.`,
          { amount_cents: `At most ${fmt.money(invoice.balance_cents)}.` });
      }
      return api.post(`/invoices/${encodeURIComponent(invoice.invoice_id)}/adjustments`,
        { amount_cents: cents, reason: reasonText(this.controls.reason.control) });
    },
  });
  if (done) {
    announce(`${fmt.money(done.amount_cents)} taken off the invoice. ${newBalance(fmt, done.patient_balance_cents, done.follow_up_status)}`);
    await reload();
  }
}

export async function reversePayment(ctx, payment, reload) {
  const { api, fmt } = ctx;
  const done = await formDialog({
    title: 'Reverse payment',
    submitLabel: `Reverse ${fmt.money(payment.amount_cents)}`,
    danger: true,
    build(form) {
      const reason = field('Reason', select(choices(ctx.vocabulary.reversalReasons)));
      const note = field('Note', h('textarea', { rows: '2', maxlength: '2000' }));
      form.append(h('p', { class: 'warning' }, `The payment of ${fmt.money(payment.amount_cents)} received `
        + `${fmt.instant(payment.received_at)} is undone: every invoice it paid owes its part again.`), reason.wrap, note.wrap);
      this.controls = { reason, note };
      return { reason, note };
    },
    async submit() {
      const body = { reason: this.controls.reason.control.value };
      const note = this.controls.note.control.value.trim();
      if (note) body.note = note;
      return api.post(`/payments/${encodeURIComponent(payment.payment_id)}/reversal`, body);
    },
  });
  if (done) {
    announce(`Payment reversed. ${newBalance(fmt, done.balance_cents, done.follow_up_status)}`);
    await reload();
  }
}

function schedulePreview() {
  const summary = h('p', { class: 'preview-summary', 'aria-live': 'polite' });
  const rows = h('tbody');
  const el = h('div', { class: 'preview', 'aria-label': 'Schedule preview', role: 'region' },
    h('h3', {}, 'Schedule preview'), summary,
    h('div', { class: 'table-wrap scroll' }, h('table', {},
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, '#'), h('th', { scope: 'col' }, 'Due'),
        h('th', { scope: 'col' }, 'Amount'))), rows)));
  return { el, summary, rows };
}

export async function changePlan(ctx, plan, reload) {
  const { api, fmt } = ctx;
  const today = fmt.today();
  const scheduled = plan.installments.filter((i) => i.status === 'scheduled');
  const remainder = scheduled.reduce((sum, i) => sum + i.amount_cents - (i.prepaid_cents || 0), 0);
  const nextDue = plan.next_due_date || today;
  const done = await formDialog({
    title: 'Change payment plan',
    submitLabel: 'Change plan',
    build(form) {
      const installment = field('Installment amount', h('input', {
        type: 'text', inputmode: 'decimal', autocomplete: 'off', value: amountText(fmt, plan.installment_cents) }),
      { hint: `Rescheduled: what is not invoiced yet, ${fmt.money(remainder)}` });
      const frequency = field('Frequency', select(choices(ctx.vocabulary.frequencies), { value: plan.frequency }));
      const start = field('Next installment on', h('input', { type: 'date', value: nextDue < today ? today : nextDue, min: today }));
      const preview = schedulePreview();
      const update = () => {
        clear(preview.rows);
        let schedule;
        try {
          const cents = fmt.parseAmount(installment.control.value);
          if (start.control.value < today) throw new ScheduleError('The next installment cannot be in the past.');
          schedule = buildSchedule(remainder, cents, frequency.control.value, start.control.value);
        } catch (error) {
          preview.summary.textContent = error.message;
          return;
        }
        preview.summary.textContent = `${schedule.length} installment${schedule.length === 1 ? '' : 's'} from `
          + `${fmt.date(schedule[0].due_date)}; issued installments stay as they are.`;
        schedule.forEach((item) => preview.rows.append(h('tr', {}, h('td', {}, String(item.number)),
          h('td', {}, fmt.date(item.due_date)), h('td', {}, fmt.money(item.amount_cents)))));
      };
      for (const control of [installment.control, frequency.control, start.control]) {
        control.addEventListener('input', update);
        control.addEventListener('change', update);
      }
      form.append(installment.wrap, frequency.wrap, start.wrap, preview.el);
      update();
      this.controls = { installment, frequency, start };
      return { installment_cents: installment, frequency, next_due_date: start };
    },
    async submit() {
      const { installment, frequency, start } = this.controls;
      const cents = fmt.parseAmount(installment.control.value, 'installment_cents');
      try {
        buildSchedule(remainder, cents, frequency.control.value, start.control.value);
      } catch (error) {
        throw new FormError(error.message, { installment_cents: error.message });
      }
      return api.patch(`/payment-plans/${encodeURIComponent(plan.plan_id)}`, {
        installment_cents: cents, frequency: frequency.control.value, next_due_date: start.control.value });
    },
  });
  if (done) {
    const left = done.installments.filter((i) => i.status === 'scheduled').length;
    announce(`Payment plan changed: ${left} installment${left === 1 ? '' : 's'} to come.`);
    await reload();
  }
}

export async function cancelPlan(ctx, plan, data, reload) {
  const { api, fmt } = ctx;
  const done = await formDialog({
    title: 'Cancel payment plan',
    submitLabel: 'Cancel plan',
    danger: true,
    build(form) {
      const reason = reasonField();
      form.append(h('p', { class: 'warning' }, 'Invoices already issued stay as they are; what the plan has not '
        + 'invoiced yet becomes one open invoice dated by the plan\'s oldest invoice, so its age carries on.'), reason.wrap);
      this.controls = { reason };
      return { reason };
    },
    async submit() {
      return api.post(`/payment-plans/${encodeURIComponent(plan.plan_id)}/cancel`, { reason: reasonText(this.controls.reason.control) });
    },
  });
  if (done) {
    announce(`Payment plan cancelled. Balance still owed: ${fmt.money(data.balance_cents)}.`);
    await reload();
  }
}

export async function placeHold(ctx, id, reload) {
  const { api, fmt } = ctx;
  const today = fmt.today();
  const first = addDays(today, 1);
  const last = addDays(today, 180);
  const done = await formDialog({
    title: 'Put on hold',
    submitLabel: 'Put on hold',
    build(form) {
      const reason = field('Reason', select(choices(ctx.vocabulary.holdReasons)));
      const until = field('On hold until', h('input', { type: 'date', min: first, max: last, required: true }),
        { hint: 'After today, at most 180 days ahead. The worklist leaves the patient out until then.' });
      const note = field('Note', h('textarea', { rows: '2', maxlength: '2000' }));
      form.append(reason.wrap, until.wrap, note.wrap);
      this.controls = { reason, until, note };
      return { reason, until, note };
    },
    async submit() {
      const { reason, until, note } = this.controls;
      if (!until.control.value) throw new FormError('Choose the last day of the hold.', { until: 'Required.' });
      const body = { reason: reason.control.value, until: until.control.value };
      if (note.control.value.trim()) body.note = note.control.value.trim();
      return api.post(`/follow-ups/${id}/hold`, body);
    },
  });
  if (done) {
    announce(`On hold until ${fmt.date(done.until)}.`);
    await reload();
  }
}

export async function releaseHold(ctx, id, reload) {
  const done = await ctx.api.delete(`/follow-ups/${id}/hold`);
  announce(`Hold released: the follow-up is ${label(done.status).toLowerCase()} again.`);
  await reload();
}

/** The hold as a line: reason, last day and note. */
export function holdText(fmt, hold) {
  return `${label(hold.reason)} · until ${fmt.date(hold.until)}${hold.note ? ` · ${hold.note}` : ''}`;
}
