// The integrations page's Webhooks section: the Owner subscribes a receiver (the signing secret is
// shown once), sends it a test ping and deletes it; Owner and Admin read each webhook's recent
// deliveries (type, attempts, last status, when delivered or tried next). The Admin's view has
// no buttons: the API refuses them the changes anyway.

import { act, announce, clear, errorNote, field, h, showMore } from './dom.js';

// The contract's event types a webhook may subscribe to (a `ping` goes only to the webhook it tests).
const EVENTS = [
  'invoice.created', 'invoice.voided', 'invoice.adjusted', 'payment.recorded', 'payment.reversed',
  'follow_up.closed', 'plan.created', 'plan.invoiced', 'plan.completed', 'plan.cancelled', 'promise.broken',
  'writeoff.recorded', 'hold.placed', 'hold.released', 'attempt.logged', 'callback.scheduled',
];
const DELIVERIES_SHOWN = 10;
const WATCH_EVERY_MS = 1500;
const WATCH_FOR_MS = 30000;

export function renderWebhooks(ctx) {
  const section = h('section', { class: 'webhooks', 'aria-labelledby': 'webhooks-heading' },
    h('h2', { id: 'webhooks-heading' }, 'Webhooks'),
    h('p', { class: 'muted' }, 'Webhooks tell the clinic\'s other systems about each change as it happens: '
      + 'a signed POST to their URL, retried for 24 hours until it is accepted.'));
  if (!ctx.api.has('GET /webhooks')) {
    section.append(h('p', { class: 'muted' }, 'Not available on this server yet (needs GET /webhooks).'));
    return section;
  }
  const shown = h('div', { 'aria-live': 'polite' });
  const list = h('div', {}, h('p', { class: 'loading' }, 'Loading…'));
  section.append(shown);
  if (ctx.isOwner && ctx.api.has('POST /webhooks')) section.append(createForm(ctx, shown, load));
  section.append(list);

  async function load() {
    let items;
    try {
      items = (await ctx.api.get('/webhooks')).items;
    } catch (error) {
      clear(list).append(errorNote(error.message));
      return;
    }
    if (items.length === 0) clear(list).append(h('p', { class: 'muted' }, 'No webhooks yet.'));
    else clear(list).append(...items.map((w) => webhookPanel(ctx, w, load)));
  }
  load();
  return section;
}

function createForm(ctx, shown, reload) {
  const url = field('Receiver URL', h('input', { type: 'url', name: 'url', required: true, maxlength: 2048,
    placeholder: 'https://pms.example.com/followups' }), { hint: 'https:// only (the local stack also takes http://127.0.0.1:PORT).' });
  const description = field('Description', h('input', { type: 'text', name: 'description', maxlength: 200 }),
    { hint: 'Optional: which system this is.' });
  const all = h('input', { type: 'checkbox', name: 'all-events', checked: true });
  const boxes = EVENTS.map((type) => {
    const box = h('input', { type: 'checkbox', name: 'events', value: type, disabled: true });
    return { box, wrap: h('label', { class: 'check' }, box, ` ${type}`) };
  });
  all.addEventListener('change', () => {
    for (const b of boxes) b.box.disabled = all.checked;
  });
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Create webhook');
  const form = h('form', { class: 'panel', novalidate: true, 'aria-label': 'New webhook' },
    h('h3', {}, 'New webhook'), url.wrap,
    h('fieldset', {}, h('legend', {}, 'Events'), h('label', { class: 'check' }, all, ' All events'),
      boxes.map((b) => b.wrap)),
    description.wrap, error, submit);
  function fail(message) {
    error.textContent = message;
    error.hidden = false;
  }
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.hidden = true;
    url.setError('');
    const events = all.checked ? ['*'] : boxes.filter((b) => b.box.checked).map((b) => b.box.value);
    if (!url.control.value.trim()) {
      url.setError('Enter the URL that receives the events.');
      return;
    }
    if (events.length === 0) {
      fail('Choose at least one event, or all of them.');
      return;
    }
    const body = { url: url.control.value.trim(), events };
    if (description.control.value.trim()) body.description = description.control.value.trim();
    submit.disabled = true;
    try {
      const made = await ctx.api.post('/webhooks', body);
      showSecretOnce(shown, made);
      form.reset();
      for (const b of boxes) b.box.disabled = true;
      await reload();
    } catch (e) {
      if (e.fields && e.fields.url) url.setError(e.message);
      else fail(e.message);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

function showSecretOnce(target, made) {
  const secret = h('code', { class: 'secret', 'data-testid': 'new-webhook-secret' }, made.secret);
  const copy = h('button', {
    type: 'button',
    class: 'secondary small',
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(made.secret);
        announce('Signing secret copied');
      } catch {
        announce('Copying is not allowed here: select the secret and copy it.', 'error');
      }
    },
  }, 'Copy secret');
  clear(target).append(h('div', { class: 'panel notice', role: 'status' },
    h('h3', {}, `Webhook for ${made.url} created`),
    h('p', {}, 'Copy its signing secret now: it is shown only this once. The receiver checks each '
      + 'delivery\'s Followups-Signature header with it.'), secret, ' ', copy));
}

function webhookPanel(ctx, w, reload) {
  const { api, fmt } = ctx;
  const path = `/webhooks/${encodeURIComponent(w.webhook_id)}`;
  const log = h('div', { class: 'deliveries' });
  const panel = h('article', { class: 'panel webhook', 'aria-label': `Webhook ${w.url}`, 'data-webhook-id': w.webhook_id },
    h('h3', {}, h('code', {}, w.url)),
    h('p', {}, w.events.includes('*') ? 'All events' : w.events.join(', ')),
    w.description ? h('p', { class: 'muted' }, w.description) : '',
    h('p', { class: 'muted' }, `Created ${fmt.instant(w.created_at)}`));
  const buttons = h('div', { class: 'actions' });
  if (ctx.isOwner && api.has('POST /webhooks/{webhook_id}/test')) {
    buttons.append(h('button', {
      type: 'button',
      class: 'secondary small',
      'aria-label': `Send test to ${w.url}`,
      onclick: (event) => act(event.currentTarget, async () => {
        const ping = await api.post(`${path}/test`);
        announce('Test ping sent: it shows in the deliveries below once tried.');
        watch(ping.event_id);
      }),
    }, 'Send test'));
  }
  buttons.append(h('button', {
    type: 'button',
    class: 'secondary small',
    'aria-label': `Refresh deliveries of ${w.url}`,
    onclick: (event) => act(event.currentTarget, loadLog),
  }, 'Refresh deliveries'));
  if (ctx.isOwner && api.has('DELETE /webhooks/{webhook_id}')) {
    buttons.append(h('button', {
      type: 'button',
      class: 'danger small',
      'aria-label': `Delete webhook ${w.url}`,
      onclick: (event) => act(event.currentTarget, async () => {
        if (!window.confirm(`Delete the webhook for ${w.url}? It gets no more deliveries.`)) return;
        await api.delete(path);
        announce('Webhook deleted');
        await reload();
      }),
    }, 'Delete'));
  }
  panel.append(buttons, h('h4', {}, 'Recent deliveries'), log);

  const page = (cursor) => api.get(`${path}/deliveries`, { limit: DELIVERIES_SHOWN, cursor });

  async function loadLog() {
    let first;
    try {
      first = await page(null);
    } catch (error) {
      clear(log).append(errorNote(error.message));
      return null;
    }
    if (first.items.length === 0) {
      clear(log).append(h('p', { class: 'muted' }, 'No deliveries yet.'));
      return first;
    }
    const body = h('tbody', {}, first.items.map((d) => deliveryRow(fmt, d)));
    const add = (items) => {
      const rows = items.map((d) => deliveryRow(fmt, d));
      body.append(...rows);
      return rows[0];
    };
    clear(log).append(h('div', { class: 'table-wrap' }, h('table', {},
      h('caption', { class: 'visually-hidden' }, `Deliveries to ${w.url}`),
      h('thead', {}, h('tr', {}, ['Event', 'Attempts', 'Last status', 'Delivered at', 'Next attempt']
        .map((t) => h('th', { scope: 'col' }, t)))),
      body)), showMore(first.next_cursor, page, add, 'deliveries') || '');
    return first;
  }

  // After a test ping: read the log until the ping has been tried (the delivery runs apart from
  // the request that made it, within seconds), or for 30 s at most.
  function watch(eventId) {
    const until = Date.now() + WATCH_FOR_MS;
    const tick = async () => {
      const first = await loadLog();
      const row = first && first.items.find((d) => d.event_id === eventId);
      if ((row && row.attempts > 0) || Date.now() > until || !panel.isConnected) return;
      setTimeout(tick, WATCH_EVERY_MS);
    };
    tick();
  }

  if (api.has('GET /webhooks/{webhook_id}/deliveries')) loadLog();
  else log.append(h('p', { class: 'muted' }, 'Not available on this server yet.'));
  return panel;
}

function deliveryRow(fmt, d) {
  const status = d.last_status === null || d.last_status === undefined ? '—' : String(d.last_status);
  return h('tr', { 'data-event-id': d.event_id },
    h('td', {}, d.type),
    h('td', {}, String(d.attempts)),
    h('td', {}, d.status ? `${status} (${d.status})` : status),
    h('td', {}, d.delivered_at ? fmt.instant(d.delivered_at) : '—'),
    h('td', {}, d.next_attempt_at ? fmt.instant(d.next_attempt_at) : '—'));
}
