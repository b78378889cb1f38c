// The Owner's integrations page: keys for the clinic's other systems (made, shown once, revoked),
// and the webhooks that tell those systems about changes (webhooks.js).

import { act, announce, clear, errorNote, field, h } from './dom.js';
import { renderWebhooks } from './webhooks.js';

const SCOPES = [
  ['patients:read', 'Read patients and search'],
  ['patients:write', 'Create and update patients'],
  ['invoices:write', 'Create invoices'],
  ['payments:write', 'Record payments'],
  ['followups:read', 'Read follow-ups, invoices, payments, plans, ledgers'],
  ['reports:read', 'Read reports'],
  ['imports:write', 'Import open balances'],
  ['webhooks:manage', 'Manage webhooks'],
];

export async function renderIntegrations(view, ctx) {
  const { api, fmt } = ctx;
  const list = h('div', { class: 'panel' }, h('p', { class: 'loading' }, 'Loading…'));
  const shown = h('div', { 'aria-live': 'polite' });
  view.append(h('h1', {}, 'Integrations'),
    h('p', { class: 'muted' }, 'Keys let the clinic\'s other systems (practice management, payments) call the API.'),
    shown);
  if (ctx.isOwner) view.append(createForm(ctx, shown, load));
  view.append(list);

  async function load() {
    let items;
    try {
      items = (await api.get('/integrations')).items;
    } catch (error) {
      clear(list).append(errorNote(error.message));
      return;
    }
    const rows = items.map((k) => h('tr', {},
      h('td', {}, k.name), h('td', {}, k.scopes.join(', ')), h('td', {}, `…${k.key_hint}`),
      h('td', {}, k.last_used_at ? fmt.instant(k.last_used_at) : 'Never'),
      h('td', {}, ctx.isOwner ? h('button', {
        type: 'button',
        class: 'danger small',
        'aria-label': `Revoke ${k.name}`,
        onclick: (event) => act(event.currentTarget, async () => {
          if (!window.confirm(`Revoke the key "${k.name}"? Systems using it stop working within a minute.`)) return;
          await api.delete(`/integrations/${encodeURIComponent(k.integration_id)}`);
          announce(`Key "${k.name}" revoked`);
          await load();
        }),
      }, 'Revoke') : '')));
    clear(list).append(h('h2', {}, 'Active keys'), items.length === 0 ? h('p', { class: 'muted' }, 'No keys yet.')
      : h('div', { class: 'table-wrap' }, h('table', {},
        h('caption', { class: 'visually-hidden' }, 'Integration keys'),
        h('thead', {}, h('tr', {}, ['Name', 'Scopes', 'Key', 'Last used', ''].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, rows))));
  }
  await load();
  view.append(renderWebhooks(ctx));
}

function createForm(ctx, shown, reload) {
  const name = field('Key name', h('input', { type: 'text', name: 'name', required: true, maxlength: 100 }));
  const boxes = SCOPES.map(([scope, text]) => {
    const box = h('input', { type: 'checkbox', name: 'scopes', value: scope });
    return { box, wrap: h('label', { class: 'check' }, box, ` ${text} (${scope})`) };
  });
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Create key');
  const form = h('form', { class: 'panel', novalidate: true }, h('h2', {}, 'New key'), name.wrap,
    h('fieldset', {}, h('legend', {}, 'Scopes'), boxes.map((b) => b.wrap)), error, submit);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.hidden = true;
    const scopes = boxes.filter((b) => b.box.checked).map((b) => b.box.value);
    if (!name.control.value.trim() || scopes.length === 0) {
      error.textContent = 'Name the key and choose at least one scope.';
      error.hidden = false;
      return;
    }
    submit.disabled = true;
    try {
      const made = await ctx.api.post('/integrations', { name: name.control.value.trim(), scopes });
      showOnce(shown, made);
      form.reset();
      await reload();
    } catch (e) {
      error.textContent = e.message;
      error.hidden = false;
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

function showOnce(target, made) {
  const key = h('code', { class: 'secret', 'data-testid': 'new-key' }, made.key);
  const copy = h('button', {
    type: 'button',
    class: 'secondary small',
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(made.key);
        announce('Key copied');
      } catch {
        announce('Copying is not allowed here: select the key and copy it.', 'error');
      }
    },
  }, 'Copy key');
  clear(target).append(h('div', { class: 'panel notice', role: 'status' },
    h('h2', {}, `Key "${made.name}" created`),
    h('p', {}, 'Copy it now: it is shown only this once.'), key, ' ', copy));
}
