// The patient panel: balance and aging, invoices, plan and installments, promises, callbacks,
// contact history and payments, with the actions billing staff take on a follow-up.

import { editDetailsButton, preferencesFact } from './patient_edit.js';
import { newIdempotencyKey } from './api.js';
import { act, announce, clear, errorNote, field, formDialog, h, HOME, select, showMore, unavailable } from './dom.js';
import { choices, FormError, label, ymdToUtcDate } from './format.js';
import {
  adjustInvoice, cancelPlan, changePlan, correctable, holdText, placeHold, releaseHold, reversePayment, voidInvoice,
} from './corrections.js';
import { buildSchedule, ScheduleError } from './schedule.js';
import { attemptWarningNote, overridePrompt } from './contact.js';

function daysBetween(fromYmd, toYmd) {
  return Math.round((ymdToUtcDate(toYmd) - ymdToUtcDate(fromYmd)) / 86400000);
}

/** Without GET /follow-ups/{id}: the patient, the ledger and the invoices and payments it names. */
async function loadFromFoundation(ctx, patientId) {
  const { api, fmt } = ctx;
  const id = encodeURIComponent(patientId);
  const [patient, ledger] = await Promise.all([api.get(`/patients/${id}`), api.get(`/patients/${id}/ledger`)]);
  const entries = ledger.items;
  const newest = (type) => entries.filter((e) => e.type === type).reverse().slice(0, 20);
  const [invoices, payments] = await Promise.all([
    Promise.all(newest('invoice').map((e) => api.get(`/invoices/${encodeURIComponent(e.ref)}`))),
    Promise.all(newest('payment').map((e) => api.get(`/payments/${encodeURIComponent(e.ref)}`))),
  ]);
  const open = invoices.filter((i) => i.status === 'open' && i.balance_cents > 0).map((i) => i.invoice_date).sort();
  const oldest = open[0] || null;
  const days = oldest ? daysBetween(oldest, fmt.today()) : null;
  return {
    patient, status: patient.follow_up_status, balance_cents: patient.balance_cents,
    oldest_invoice_date: oldest, days_overdue: days, bucket: oldest ? ctx.vocabulary.bucketFor(days) : null,
    invoices, payments, attempts: null, callbacks: null, plan: null, promises: null,
    last_attempt: null, next_action: null, ledger: entries, ledger_next_cursor: ledger.next_cursor, partial: true,
  };
}

export async function renderPatient(view, ctx, { patientId }) {
  const { api } = ctx;
  const heading = h('h1', {}, 'Patient');
  const body = h('div', { class: 'patient' }, h('p', { class: 'loading' }, 'Loading…'));
  view.append(h('p', { class: 'back' }, h('a', { href: HOME }, '← Back to follow-ups')), heading, body);
  const id = encodeURIComponent(patientId);
  let data = null;

  async function reload() {
    try {
      data = api.has('GET /follow-ups/{patient_id}') ? await api.get(`/follow-ups/${id}`)
        : await loadFromFoundation(ctx, patientId);
    } catch (error) {
      heading.textContent = error.status === 404 ? 'Patient not found' : 'Patient';
      clear(body).append(errorNote(error.status === 404 ? 'There is no such patient in this clinic.' : error.message));
      return;
    }
    heading.textContent = data.patient.name;
    document.title = `${data.patient.name} · Clinic Follow-ups`;
    clear(body).append(...renderPanel(ctx, data, { reload, patientId }));
  }
  await reload();
}

function section(title, ...content) {
  return h('section', { class: 'panel', 'aria-label': title }, h('h2', {}, title), ...content);
}

/** A section whose heading also says the list's order ("Callbacks · newest first"); its name stays the title. */
function orderedSection(title, order, ...content) {
  return h('section', { class: 'panel', 'aria-label': title },
    h('h2', {}, title, h('span', { class: 'order' }, ` · ${order}`)), ...content);
}

function tableOf(caption, head, tbody) {
  return h('div', { class: 'table-wrap' }, h('table', { class: 'cards-on-phone' },
    h('caption', { class: 'visually-hidden' }, caption),
    h('thead', {}, h('tr', {}, head.map((name) => h('th', { scope: 'col' }, name)))), tbody));
}

function row(head, cells) {
  return h('tr', {}, cells.map((cell, i) => h('td', { 'data-label': head[i] }, cell)));
}

function table(caption, head, rows, empty) {
  if (!rows.length) return h('p', { class: 'muted' }, empty);
  return tableOf(caption, head, h('tbody', {}, rows.map((cells) => row(head, cells))));
}

// What one "Show more" adds to a list (the detail shows the first 50 of each).
const PAGE_SIZE = 50;

/**
 * A list the API pages (style point 20): the rows of `items`, and under them "Show more" while
 * `cursor` is set, which appends the next pages of `route` at `path`. The rows it brings are
 * pushed onto `items` too, so the panel's actions (the payment's invoice choice) see them.
 */
function pagedTable(ctx, { caption, head, items, cells, empty, cursor, route, path, noun }) {
  if (!items.length) return h('p', { class: 'muted' }, empty);
  const tbody = h('tbody', {}, items.map((item) => row(head, cells(item))));
  let more = null;
  if (cursor && !ctx.api.has(route)) {
    more = unavailable(route);
  } else if (cursor) {
    more = showMore(cursor, (next) => ctx.api.get(path, { limit: PAGE_SIZE, cursor: next }), (page) => {
      items.push(...page);
      const rows = page.map((item) => row(head, cells(item)));
      tbody.append(...rows);
      return rows[0];
    }, noun);
  }
  return [tableOf(caption, head, tbody), more];
}

function renderPanel(ctx, data, { reload, patientId }) {
  const { api, fmt } = ctx;
  const id = encodeURIComponent(patientId);
  const owed = data.balance_cents > 0;
  const p = data.patient;

  // ----- summary ------------------------------------------------------------------------------
  const contact = [p.phone && `Phone ${p.phone}`, p.email && `Email ${p.email}`, p.external_id && `Ref ${p.external_id}`]
    .filter(Boolean).join(' · ');
  const facts = h('dl', { class: 'facts' },
    h('div', {}, h('dt', {}, 'Balance'), h('dd', { class: 'balance', 'data-testid': 'balance' }, fmt.money(data.balance_cents))),
    h('div', {}, h('dt', {}, 'Status'), h('dd', {}, h('span', { class: ['badge', data.status] }, label(data.status)))),
    data.oldest_invoice_date ? h('div', {}, h('dt', {}, 'Oldest open invoice'),
      h('dd', {}, `${fmt.date(data.oldest_invoice_date)} · ${data.days_overdue} days overdue (${data.bucket})`)) : null,
    data.hold ? h('div', { 'data-testid': 'hold' }, h('dt', {}, 'On hold'), h('dd', {}, holdText(fmt, data.hold))) : null,
    preferencesFact(ctx, p),
    data.next_action ? h('div', {}, h('dt', {}, 'Next action'),
      h('dd', {}, `${label(data.next_action.type)} · ${fmt.dateOrInstant(data.next_action.due)}`)) : null,
    data.last_attempt ? h('div', {}, h('dt', {}, 'Last contact'),
      h('dd', {}, `${label(data.last_attempt.channel)}: ${label(data.last_attempt.outcome)} · ${fmt.instant(data.last_attempt.at)}`)) : null);

  // ----- actions ------------------------------------------------------------------------------
  const actions = h('div', { class: 'actions-bar', role: 'group', 'aria-label': 'Actions' });
  const button = (text, onClick, cls = 'secondary') => h('button', { type: 'button', class: cls, onclick: onClick }, text);
  if (api.has('POST /follow-ups/{patient_id}/attempts')) {
    actions.append(button('+ Log attempt', () => logAttempt(ctx, data, id, reload)));
  }
  const edit = editDetailsButton(ctx, p, reload);
  if (edit) actions.append(edit);
  if (api.has('POST /follow-ups/{patient_id}/callbacks')) {
    actions.append(button('Schedule callback', () => scheduleCallback(ctx, id, reload, data.contact)));
  }
  if (owed && api.has('POST /payments')) {
    actions.append(button('Record payment', () => recordPayment(ctx, data, patientId, reload), 'primary'));
  }
  if (owed && !data.plan && api.has('POST /follow-ups/{patient_id}/payment-plan')) {
    actions.append(button('Convert to payment plan', () => convertToPlan(ctx, data, id, reload)));
  }
  if (owed && ctx.permissions.has('write_off') && api.has('POST /follow-ups/{patient_id}/write-off')) {
    actions.append(button('Write off', () => writeOff(ctx, data, id, reload), 'danger'));
  }
  if (owed && !data.hold && ctx.vocabulary.holdReasons.length && api.has('POST /follow-ups/{patient_id}/hold')) {
    actions.append(button('Put on hold', () => placeHold(ctx, id, reload)));
  }
  if (data.hold && api.has('DELETE /follow-ups/{patient_id}/hold')) {
    actions.append(button('Release hold', (event) => act(event.currentTarget, () => releaseHold(ctx, id, reload))));
  }
  if (!owed) {
    actions.append(h('p', { class: 'muted' }, data.status === 'written_off' ? 'This follow-up was written off.'
      : 'Nothing is owed: this follow-up is closed.'));
  }

  const summary = h('section', { class: 'panel summary', 'aria-label': 'Summary' },
    contact ? h('p', { class: 'muted' }, contact) : null, facts, actions);

  // ----- invoices -----------------------------------------------------------------------------
  const invoices = section('Invoices', pagedTable(ctx, {
    caption: 'Invoices, newest first', head: ['Invoice date', 'Description', 'Amount', 'Balance', 'Status', ''],
    items: data.invoices, empty: 'No invoices.', noun: 'invoices',
    cursor: data.invoices_next_cursor, route: 'GET /patients/{patient_id}/invoices', path: `/patients/${id}/invoices`,
    cells: (i) => [
      fmt.date(i.invoice_date),
      i.source === 'plan' ? `Plan installment ${i.installment_number}` : (i.description || (i.source === 'manual' ? 'Invoice' : label(i.source))),
      fmt.money(i.amount_cents), fmt.money(i.balance_cents),
      h('span', { class: ['badge', i.status] }, label(i.status)), invoiceButtons(ctx, i, reload)],
  }));

  // ----- plan ---------------------------------------------------------------------------------
  let plan;
  if (data.plan) {
    const pl = data.plan;
    const run = pl.status === 'active' && api.has('POST /payment-plans/{plan_id}/run')
      ? button('Run invoicing now', (event) => act(event.currentTarget, async () => {
        const out = await api.post(`/payment-plans/${encodeURIComponent(pl.plan_id)}/run`);
        const n = out.invoices_created.length;
        announce(n ? `${n} installment invoice${n === 1 ? '' : 's'} created.` : 'No installment is due yet.');
        await reload();
      })) : null;
    const active = pl.status === 'active';
    const change = active && api.has('PATCH /payment-plans/{plan_id}')
      ? button('Change plan', () => changePlan(ctx, pl, reload)) : null;
    const cancel = active && ctx.isOwnerOrAdmin && api.has('POST /payment-plans/{plan_id}/cancel')
      ? button('Cancel plan', () => cancelPlan(ctx, pl, data, reload), 'danger') : null;
    plan = section('Payment plan',
      h('p', {}, `${label(pl.status)} · ${fmt.money(pl.total_cents)} in ${pl.installments.length} ${label(pl.frequency).toLowerCase()} installments of ${fmt.money(pl.installment_cents)} from ${fmt.date(pl.start_date)}`),
      h('div', { class: 'row-actions' }, run, change, cancel),
      table('Installments', ['#', 'Due', 'Amount', 'Status'],
        pl.installments.map((i) => [String(i.number), fmt.date(i.due_date), fmt.money(i.amount_cents),
          h('span', { class: ['badge', i.status] }, label(i.status))]), 'No installments.'));
  } else {
    plan = section('Payment plan', h('p', { class: 'muted' }, data.partial ? 'Not shown on this server yet (needs GET /follow-ups/{patient_id}).' : 'No active payment plan.'));
  }

  // ----- promises -----------------------------------------------------------------------------
  const pending = data.pending_promise;
  const promises = section('Promises', data.promises
    ? [h('p', {}, `Made ${data.promises.made} · kept ${data.promises.kept} · broken ${data.promises.broken}`),
      pending ? h('p', { class: 'badge-line' }, `Pending: ${fmt.money(pending.amount_cents)} by ${fmt.date(pending.promised_date)}`) : null]
    : unavailable('GET /follow-ups/{patient_id}'));

  // ----- callbacks ----------------------------------------------------------------------------
  let callbacks;
  if (data.callbacks) {
    const canPatch = api.has('PATCH /callbacks/{callback_id}');
    // Newest first means by when each was scheduled, not by when it is due: the first column
    // shows that order (the clinic-local day, short, so the narrow column still reads), so a due
    // time out of step with its neighbours does not read as a mistake.
    callbacks = orderedSection('Callbacks', 'newest first', pagedTable(ctx, {
      caption: 'Callbacks, newest first', head: ['Scheduled', 'Due', 'Assigned to', 'Status', 'Notes', ''],
      items: data.callbacks, empty: 'No callbacks scheduled.', noun: 'callbacks',
      cursor: data.callbacks_next_cursor, route: 'GET /patients/{patient_id}/callbacks', path: `/patients/${id}/callbacks`,
      cells: (c) => [c.created_at ? fmt.date(fmt.localYmd(new Date(c.created_at))) : '',
        // Date and time each kept whole, so the narrow column wraps between them and nowhere else.
        [h('span', { class: 'when' }, `${fmt.date(fmt.localYmd(new Date(c.due_at)))},`), ' ',
          h('span', { class: 'when' }, fmt.time(c.due_at))], ctx.person(c.assignee_sub),
        h('span', { class: ['badge', c.status] }, label(c.status)), c.notes || '',
        c.status === 'scheduled' && canPatch ? callbackButtons(ctx, c, reload) : ''],
    }));
  } else {
    callbacks = section('Callbacks', unavailable('GET /follow-ups/{patient_id}'));
  }

  // ----- contact history ----------------------------------------------------------------------
  const history = section('Contact history', data.attempts
    ? pagedTable(ctx, {
      caption: 'Contact attempts, newest first', head: ['When', 'By', 'Channel', 'Outcome', 'Notes'],
      items: data.attempts, empty: 'No contact attempts yet.', noun: 'contact attempts',
      cursor: data.attempts_next_cursor, route: 'GET /patients/{patient_id}/attempts', path: `/patients/${id}/attempts`,
      cells: (a) => [fmt.instant(a.at), ctx.person(a.by), label(a.channel),
        a.outcome === 'promised_payment' && a.promised_amount_cents
          ? `${label(a.outcome)}: ${fmt.money(a.promised_amount_cents)} by ${fmt.date(a.promised_date)}` : label(a.outcome),
        a.notes || ''],
    })
    : unavailable('GET /follow-ups/{patient_id}'));

  // ----- payments -----------------------------------------------------------------------------
  const canReverse = ctx.isOwnerOrAdmin && ctx.vocabulary.reversalReasons.length
    && api.has('POST /payments/{payment_id}/reversal');
  const payments = section('Recent payments', table('Payments, newest first', ['Received', 'Amount', 'Method', 'Recorded by', ''],
    data.payments.map((pay) => [fmt.instant(pay.received_at), fmt.money(pay.amount_cents), label(pay.method),
      ctx.person(pay.created_by),
      pay.reversed ? h('span', { class: ['badge', 'void'] }, 'Reversed')
        : canReverse ? h('button', { type: 'button', class: 'secondary small',
          'aria-label': `Reverse the payment of ${fmt.money(pay.amount_cents)} received ${fmt.instant(pay.received_at)}`,
          onclick: () => reversePayment(ctx, pay, reload) }, 'Reverse') : '']), 'No payments yet.'));

  const ledger = data.ledger ? section('Account history', pagedTable(ctx, {
    caption: 'Ledger, oldest first', head: ['When', 'Entry', 'Amount', 'Balance after'],
    items: data.ledger, empty: 'No entries.', noun: 'ledger entries',
    cursor: data.ledger_next_cursor, route: 'GET /patients/{patient_id}/ledger', path: `/patients/${id}/ledger`,
    cells: (e) => [fmt.instant(e.at), label(e.type), fmt.money(e.amount_cents), fmt.money(e.balance_after_cents)],
  })) : null;

  return [summary, h('div', { class: 'columns' },
    h('div', {}, invoices, plan, payments, ledger),
    h('div', {}, promises, callbacks, history))];
}

function invoiceButtons(ctx, invoice, reload) {
  if (!correctable(ctx, invoice)) return '';
  const { api, fmt } = ctx;
  const what = `the invoice of ${fmt.date(invoice.invoice_date)} (${fmt.money(invoice.amount_cents)})`;
  return h('span', { class: 'row-actions' },
    api.has('POST /invoices/{invoice_id}/void') ? h('button', { type: 'button', class: 'secondary small',
      'aria-label': `Void ${what}`, onclick: () => voidInvoice(ctx, invoice, reload) }, 'Void') : null,
    api.has('POST /invoices/{invoice_id}/adjustments') ? h('button', { type: 'button', class: 'secondary small',
      'aria-label': `Adjust ${what}`, onclick: () => adjustInvoice(ctx, invoice, reload) }, 'Adjust') : null);
}

function callbackButtons(ctx, callback, reload) {
  const update = (status, done) => (event) => act(event.currentTarget, async () => {
    await ctx.api.patch(`/callbacks/${encodeURIComponent(callback.callback_id)}`, { status });
    announce(done);
    await reload();
  });
  const when = ctx.fmt.instant(callback.due_at);
  return h('span', { class: 'row-actions' },
    h('button', { type: 'button', class: 'secondary small', 'aria-label': `Mark the callback of ${when} done`,
      onclick: update('done', 'Callback marked done.') }, 'Done'),
    h('button', { type: 'button', class: 'secondary small', 'aria-label': `Cancel the callback of ${when}`,
      onclick: update('cancelled', 'Callback cancelled.') }, 'Cancel'));
}

// ----- actions ----------------------------------------------------------------------------------

async function logAttempt(ctx, data, id, reload) {
  const { api, fmt } = ctx;
  const done = await formDialog({
    title: '+ Log attempt',
    submitLabel: 'Log attempt',
    build(form) {
      const channel = field('Channel', select(choices(ctx.vocabulary.channels)));
      const outcome = field('Outcome', select(choices(ctx.vocabulary.outcomes)));
      const amount = field('Promised amount', h('input', { type: 'text', inputmode: 'decimal', autocomplete: 'off' }),
        { hint: `Up to the balance, ${fmt.money(data.balance_cents)}` });
      const date = field('Promised date', h('input', { type: 'date', min: fmt.today() }));
      const notes = field('Notes', h('textarea', { rows: '3', maxlength: '2000' }));
      const promise = h('div', { class: 'promise-fields', hidden: true }, amount.wrap, date.wrap);
      outcome.control.addEventListener('change', () => {
        promise.hidden = outcome.control.value !== 'promised_payment';
      });
      form.append(channel.wrap, attemptWarningNote(data.contact, channel.control), outcome.wrap, promise, notes.wrap);
      this.controls = { channel, outcome, amount, date, notes };
      return { channel, outcome, promised_amount_cents: amount, promised_date: date, notes };
    },
    async submit() {
      const { channel, outcome, amount, date, notes } = this.controls;
      const body = { channel: channel.control.value, outcome: outcome.control.value };
      if (notes.control.value.trim()) body.notes = notes.control.value.trim();
      if (body.outcome === 'promised_payment') {
        body.promised_amount_cents = fmt.parseAmount(amount.control.value, 'promised_amount_cents');
        if (!date.control.value) throw new FormError('Choose the promised date.', { promised_date: 'Required.' });
        body.promised_date = date.control.value;
      }
      return api.post(`/follow-ups/${id}/attempts`, body);
    },
  });
  if (done) {
    announce('Attempt logged.');
    await reload();
  }
}

function defaultCallbackTime(fmt) {
  const tomorrow = new Date(Date.now() + 86400000);
  return `${fmt.localYmd(tomorrow)}T09:00`;
}

async function scheduleCallback(ctx, id, reload, contact = null) {
  const override = overridePrompt((contact && contact.timezone) || ctx.clinic.timezone);
  const { api, fmt } = ctx;
  const staff = await ctx.staff();
  const people = [...staff.values()].map((m) => [m.sub, m.sub === ctx.me.sub ? `Me (${m.name})` : m.name]);
  const done = await formDialog({
    title: 'Schedule callback',
    submitLabel: 'Schedule callback',
    build(form) {
      const due = field('Due', h('input', { type: 'datetime-local', value: defaultCallbackTime(fmt), required: true }),
        { hint: `Clinic time (${ctx.clinic.timezone})` });
      const assignee = field('Assigned to', select(people, { value: ctx.me.sub }));
      const notes = field('Notes', h('textarea', { rows: '3', maxlength: '2000' }));
      form.append(due.wrap, assignee.wrap, notes.wrap, override.wrap);
      this.controls = { due, assignee, notes };
      return { due_at: due, assignee_sub: assignee, notes };
    },
    async submit() {
      const { due, assignee, notes } = this.controls;
      const wall = due.control.value.slice(0, 16);
      if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/.test(wall)) throw new FormError('Choose when to call back.', { due_at: 'Required.' });
      // A wall time without offset: the API reads it in the clinic's time zone.
      const body = { due_at: wall };
      if (assignee.control.value && assignee.control.value !== ctx.me.sub) body.assignee_sub = assignee.control.value;
      if (notes.control.value.trim()) body.notes = notes.control.value.trim();
      try {
        return await api.post(`/follow-ups/${id}/callbacks`, override.apply(body));
      } catch (error) {
        override.handle(error); // a contact rule: the reason field appears; the dialog stays open
        throw error;
      }
    },
  });
  if (done) {
    announce(`Callback scheduled for ${fmt.instant(done.due_at)}.`);
    await reload();
  }
}

async function recordPayment(ctx, data, patientId, reload) {
  const { api, fmt } = ctx;
  // One Idempotency-Key per payment: made on the first submit and sent again when that submit
  // is retried after a network error or a 5xx, so a retry can never record the payment twice.
  let pending = null;
  const openInvoices = data.invoices.filter((i) => i.status === 'open' && i.balance_cents > 0);
  const done = await formDialog({
    title: 'Record payment',
    submitLabel: 'Record payment',
    build(form) {
      const amount = field('Amount', h('input', { type: 'text', inputmode: 'decimal', autocomplete: 'off', required: true }),
        { hint: `Balance owed: ${fmt.money(data.balance_cents)}` });
      const method = field('Method', select(choices(ctx.vocabulary.paymentMethods), { value: 'card' }));
      const invoice = field('Apply to', select([['', 'Oldest invoices first'],
        ...openInvoices.map((i) => [i.invoice_id, `Invoice of ${fmt.date(i.invoice_date)} (${fmt.money(i.balance_cents)} open)`])]));
      const note = field('Note', h('textarea', { rows: '2', maxlength: '2000' }));
      form.append(amount.wrap, method.wrap, invoice.wrap, note.wrap);
      this.controls = { amount, method, invoice, note };
      return { amount_cents: amount, method, invoice_id: invoice, note };
    },
    async submit() {
      const { amount, method, invoice, note } = this.controls;
      const body = { patient_id: patientId, amount_cents: fmt.parseAmount(amount.control.value), method: method.control.value };
      if (invoice.control.value) body.invoice_id = invoice.control.value;
      if (note.control.value.trim()) body.note = note.control.value.trim();
      const text = JSON.stringify(body);
      if (!pending || pending.body !== text) pending = { key: newIdempotencyKey(), body: text };
      try {
        const payment = await api.post('/payments', body, { 'Idempotency-Key': pending.key });
        pending = null;
        return payment;
      } catch (error) {
        const retryable = error.status === 0 || error.status >= 500 || error.code === 'idempotency_key_in_use';
        if (!retryable) pending = null;
        if (retryable) {
          error.message = `${error.message} Press Record payment again: it is sent with the same key, so it is recorded once.`;
        }
        if (error.code === 'overpayment') {
          error.fields = { amount_cents: `More than the ${fmt.money(data.balance_cents)} owed.` };
        }
        throw error;
      }
    },
  });
  if (done) {
    const closed = done.follow_up_status === 'closed';
    announce(`Payment of ${fmt.money(done.amount_cents)} recorded.${closed ? ' Nothing is owed now: the follow-up is closed.' : ''}`);
    await reload();
  }
}

async function convertToPlan(ctx, data, id, reload) {
  const { api, fmt } = ctx;
  const today = fmt.today();
  const done = await formDialog({
    title: 'Convert to payment plan',
    submitLabel: 'Create plan',
    build(form) {
      const installment = field('Installment amount', h('input', { type: 'text', inputmode: 'decimal', autocomplete: 'off' }),
        { hint: `Total: the balance, ${fmt.money(data.balance_cents)}` });
      const frequency = field('Frequency', select(choices(ctx.vocabulary.frequencies), { value: 'monthly' }));
      const start = field('First installment on', h('input', { type: 'date', value: today, min: today }));
      const summary = h('p', { class: 'preview-summary', 'aria-live': 'polite' });
      const rows = h('tbody');
      const preview = h('div', { class: 'preview', 'aria-label': 'Schedule preview', role: 'region' },
        h('h3', {}, 'Schedule preview'), summary,
        h('div', { class: 'table-wrap scroll' }, h('table', {},
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, '#'), h('th', { scope: 'col' }, 'Due'),
            h('th', { scope: 'col' }, 'Amount'))), rows)));
      const update = () => {
        clear(rows);
        let schedule;
        try {
          const cents = installment.control.value.trim() ? fmt.parseAmount(installment.control.value) : null;
          if (cents === null) {
            summary.textContent = 'Enter an installment amount to see the schedule.';
            return;
          }
          if (start.control.value && start.control.value < today) throw new ScheduleError('The first installment cannot be in the past.');
          schedule = buildSchedule(data.balance_cents, cents, frequency.control.value, start.control.value);
        } catch (error) {
          summary.textContent = error.message;
          return;
        }
        const last = schedule[schedule.length - 1];
        summary.textContent = schedule.length === 1
          ? `One installment of ${fmt.money(last.amount_cents)} on ${fmt.date(last.due_date)}.`
          : `${schedule.length} installments: ${fmt.money(schedule[0].amount_cents)} each`
            + `${last.amount_cents !== schedule[0].amount_cents ? `, the last ${fmt.money(last.amount_cents)}` : ''}`
            + `; the last on ${fmt.date(last.due_date)}.`;
        for (const item of schedule) {
          rows.append(h('tr', {}, h('td', {}, String(item.number)), h('td', {}, fmt.date(item.due_date)),
            h('td', {}, fmt.money(item.amount_cents))));
        }
      };
      for (const control of [installment.control, frequency.control, start.control]) {
        control.addEventListener('input', update);
        control.addEventListener('change', update);
      }
      form.append(installment.wrap, frequency.wrap, start.wrap, preview);
      update();
      this.controls = { installment, frequency, start };
      return { installment_cents: installment, frequency, start_date: start };
    },
    async submit() {
      const { installment, frequency, start } = this.controls;
      const cents = fmt.parseAmount(installment.control.value, 'installment_cents');
      try {
        buildSchedule(data.balance_cents, cents, frequency.control.value, start.control.value);
      } catch (error) {
        throw new FormError(error.message, { installment_cents: error.message });
      }
      return api.post(`/follow-ups/${id}/payment-plan`, {
        installment_cents: cents, frequency: frequency.control.value, start_date: start.control.value,
      });
    },
  });
  if (done) {
    announce(`Payment plan created: ${done.installments.length} installments.`);
    await reload();
  }
}

async function writeOff(ctx, data, id, reload) {
  const { api, fmt } = ctx;
  const done = await formDialog({
    title: 'Write off',
    submitLabel: `Write off ${fmt.money(data.balance_cents)}`,
    danger: true,
    build(form) {
      const reason = field('Reason', h('textarea', { rows: '3', minlength: '3', maxlength: '500', required: true }),
        { hint: '3 to 500 characters; kept in the audit trail.' });
      form.append(h('p', { class: 'warning' }, `This writes off everything ${data.patient.name} owes (${fmt.money(data.balance_cents)}): `
        + 'every open invoice is zeroed and an active plan is cancelled. It cannot be undone.'), reason.wrap);
      this.controls = { reason };
      return { reason };
    },
    async submit() {
      const text = this.controls.reason.control.value.trim();
      if (text.length < 3 || text.length > 500) {
        throw new FormError('Give a reason of 3 to 500 characters.', { reason: '3 to 500 characters.' });
      }
      return api.post(`/follow-ups/${id}/write-off`, { reason: text });
    },
  });
  if (done) {
    announce(`${fmt.money(done.written_off_cents)} written off.`);
    await reload();
  }
}
