// Team (Owners and Admins): the staff (Owners change roles, deactivate and reactivate; Admins
// deactivate BillingStaff members), write-off delegations (Owners grant and revoke them) and the
// audit trail, where every change to the team shows.

import { act, announce, clear, field, formDialog, h, lacksRoute, orErrorNote, patientHref, select } from './dom.js';
import { choices, FormError, label } from './format.js';

const ACTIONS = ['invoice.created', 'payment.recorded', 'attempt.logged', 'callback.scheduled', 'callback.updated',
  'plan.created', 'plan.invoiced', 'promise.broken', 'writeoff.recorded', 'delegation.granted', 'delegation.revoked',
  'clinic.updated', 'staff.created', 'staff.updated', 'staff.deactivated', 'staff.reactivated'];

export async function renderTeam(view, ctx) {
  view.append(h('div', { class: 'view-head' }, h('h1', {}, 'Team')));
  const staff = h('section', { class: 'panel', 'aria-label': 'Staff' }, h('h2', {}, 'Staff'));
  const delegations = h('section', { class: 'panel', 'aria-label': 'Write-off delegations' }, h('h2', {}, 'Write-off delegations'));
  const audit = h('section', { class: 'panel', 'aria-label': 'Audit trail' }, h('h2', {}, 'Audit trail'));
  view.append(h('div', { class: 'columns' }, staff, delegations), audit);
  let reloadAudit = async () => {};
  let reloadDelegations = async () => {};
  const changed = async () => Promise.all([reloadAudit(), reloadDelegations()]);
  await renderStaff(staff, ctx, changed); // first: the audit trail names members who left too
  await Promise.all([
    renderDelegations(delegations, ctx).then((reload) => { reloadDelegations = reload || reloadDelegations; }),
    renderAudit(audit, ctx).then((reload) => { reloadAudit = reload || reloadAudit; }),
  ]);
}

async function renderStaff(section, ctx, changed) {
  const { api } = ctx;
  const list = h('div');
  section.append(list);
  async function load() {
    let members;
    try {
      members = api.has('GET /staff') ? (await api.get('/staff', { status: 'all' })).items
        : [...(await ctx.staff({ fresh: true })).values()];
    } catch (error) {
      clear(list).append(h('p', { class: 'form-error' }, error.message));
      return;
    }
    await ctx.staff({ fresh: true });
    ctx.formerStaff = new Map(members.filter((m) => m.status === 'inactive').map((m) => [m.sub, m]));
    clear(list).append(h('ul', { class: 'people' }, members.map((m) => memberRow(m, members))));
  }
  function memberRow(m, members) {
    const inactive = m.status === 'inactive';
    const buttons = [];
    const mayDeactivate = ctx.isOwner || (ctx.isOwnerOrAdmin && m.role === 'BillingStaff');
    if (!inactive && ctx.isOwner && api.has('PATCH /staff/{sub}')) {
      buttons.push(button(`Change ${m.name}'s role`, 'Change role', () => changeRole(m)));
    }
    if (!inactive && m.sub !== ctx.me.sub && mayDeactivate && api.has('POST /staff/{sub}/deactivate')) {
      buttons.push(button(`Deactivate ${m.name}`, 'Deactivate', () => deactivate(m, members)));
    }
    if (inactive && ctx.isOwner && api.has('POST /staff/{sub}/reactivate')) {
      buttons.push(button(`Reactivate ${m.name}`, 'Reactivate', async () => {
        await api.post(`/staff/${encodeURIComponent(m.sub)}/reactivate`);
        announce(`${m.name} is active again.`);
        await refresh();
      }));
    }
    return h('li', { class: inactive ? 'inactive' : null, 'data-sub': m.sub },
      h('span', { class: 'name' }, m.name), ' ', h('span', { class: 'muted' }, m.email), ' ',
      h('span', { class: 'badge' }, label(m.role)), ' ',
      inactive ? h('span', { class: 'badge muted' }, 'Inactive') : null, ' ', ...buttons);
  }
  function button(aria, text, action) {
    const b = h('button', { type: 'button', class: 'secondary small', 'aria-label': aria }, text);
    b.addEventListener('click', () => act(b, action));
    return b;
  }
  async function refresh() {
    await load();
    await changed();
  }
  async function changeRole(m) {
    const roles = [...ctx.vocabulary.roles].reverse();
    const done = await formDialog({
      title: `Change ${m.name}'s role`,
      submitLabel: 'Change role',
      build(form) {
        const role = field('Role', select(choices(roles), { value: m.role }));
        form.append(role.wrap);
        this.role = role;
        return { role };
      },
      submit() {
        return api.patch(`/staff/${encodeURIComponent(m.sub)}`, { role: this.role.control.value });
      },
    });
    if (done) {
      announce(`${done.name} is now ${label(done.role)}.`);
      await refresh();
    }
  }
  async function deactivate(m, members) {
    const heirs = members.filter((o) => o.status !== 'inactive' && o.sub !== m.sub);
    heirs.sort((a, b) => (a.sub === ctx.me.sub ? -1 : b.sub === ctx.me.sub ? 1 : a.name.localeCompare(b.name)));
    const done = await formDialog({
      title: `Deactivate ${m.name}`,
      submitLabel: 'Deactivate',
      danger: true,
      build(form) {
        const heir = field('Who takes their callbacks', select(heirs.map((o) => [o.sub,
          o.sub === ctx.me.sub ? `You (${o.name})` : `${o.name} (${label(o.role)})`])));
        form.append(h('p', {}, `${m.name} is signed out everywhere and can no longer sign in. Their scheduled `
          + 'callbacks move to the colleague you choose; their calendar feed and delegations stop.'), heir.wrap);
        this.heir = heir;
        return { reassign_to: heir };
      },
      submit() {
        return api.post(`/staff/${encodeURIComponent(m.sub)}/deactivate`, { reassign_to: this.heir.control.value });
      },
    });
    if (done) {
      const n = done.callbacks_reassigned;
      announce(`${m.name} is deactivated; ${n} callback${n === 1 ? '' : 's'} moved.`);
      await refresh();
    }
  }
  if (api.has('POST /staff')) {
    const add = h('button', { type: 'button', class: 'secondary' }, 'Add staff member');
    add.addEventListener('click', async () => {
      // The API lists the roles Owner first; the form offers the least one first, and an Admin
      // may not create Owners.
      const roles = [...ctx.vocabulary.roles].reverse().filter((r) => ctx.isOwner || r !== 'Owner');
      const created = await formDialog({
        title: 'Add staff member',
        submitLabel: 'Add staff member',
        build(form) {
          const name = field('Name', h('input', { type: 'text', maxlength: '200', autocomplete: 'off' }));
          const email = field('Email', h('input', { type: 'email', autocomplete: 'off' }));
          const role = field('Role', select(choices(roles)));
          form.append(name.wrap, email.wrap, role.wrap);
          this.controls = { name, email, role };
          return { name, email, role };
        },
        submit() {
          const { name, email, role } = this.controls;
          if (!name.control.value.trim()) throw new FormError('Enter a name.', { name: 'Required.' });
          return api.post('/staff', { name: name.control.value.trim(), email: email.control.value.trim(), role: role.control.value });
        },
      });
      if (created) {
        announce(`${created.name} added.`);
        await refresh();
      }
    });
    section.append(h('div', { class: 'actions' }, add));
  }
  await load();
}

async function renderDelegations(section, ctx) {
  const { api, fmt } = ctx;
  if (lacksRoute(api, 'GET /delegations', section)) return;
  section.append(h('p', { class: 'muted' }, 'A delegate may write off balances like an Owner until the delegation expires or is revoked.'));
  const list = h('div');
  section.append(list);
  async function load() {
    const page = await orErrorNote(list, api.get('/delegations'));
    if (!page) return;
    const { items } = page;
    clear(list);
    if (!items.length) {
      list.append(h('p', { class: 'empty' }, 'No active delegations.'));
      return;
    }
    const canRevoke = ctx.isOwner && api.has('DELETE /delegations/{delegation_id}');
    list.append(h('ul', { class: 'people' }, items.map((d) => {
      const who = ctx.person(d.grantee_sub);
      const revoke = canRevoke ? h('button', { type: 'button', class: 'secondary small', 'aria-label': `Revoke ${who}'s delegation` }, 'Revoke') : null;
      if (revoke) {
        revoke.addEventListener('click', () => act(revoke, async () => {
          await api.delete(`/delegations/${encodeURIComponent(d.delegation_id)}`);
          announce(`${who} can no longer write off.`);
          await load();
        }));
      }
      return h('li', {}, h('span', { class: 'name' }, who), ' ',
        h('span', { class: 'muted' }, `${label(d.permission)} until ${fmt.instant(d.expires_at)}`), ' ', revoke);
    })));
  }
  if (ctx.isOwner && api.has('POST /delegations')) {
    const grant = h('button', { type: 'button', class: 'secondary' }, 'Delegate write-off');
    grant.addEventListener('click', async () => {
      const candidates = [...(await ctx.staff()).values()].filter((m) => m.role !== 'Owner');
      const created = await formDialog({
        title: 'Delegate write-off',
        submitLabel: 'Delegate',
        build(form) {
          const grantee = field('Staff member', select(candidates.map((m) => [m.sub, `${m.name} (${m.email})`])));
          const days = field('Days', h('input', { type: 'number', min: '1', max: '90', step: '1', value: '7' }),
            { hint: '1 to 90 days from now.' });
          form.append(grantee.wrap, days.wrap);
          this.controls = { grantee, days };
          return { grantee_sub: grantee, expires_at: days };
        },
        submit() {
          const { grantee, days } = this.controls;
          const n = Number(days.control.value);
          if (!Number.isInteger(n) || n < 1 || n > 90) throw new FormError('Choose 1 to 90 days.', { expires_at: '1 to 90 days.' });
          if (!grantee.control.value) throw new FormError('Choose a staff member.', { grantee_sub: 'Required.' });
          const expires = new Date(Date.now() + n * 86400000).toISOString().replace(/\.\d{3}Z$/, 'Z');
          return api.post('/delegations', { grantee_sub: grantee.control.value, permission: 'write_off', expires_at: expires });
        },
      });
      if (created) {
        announce(`${ctx.person(created.grantee_sub)} may write off until ${fmt.instant(created.expires_at)}.`);
        await load();
      }
    });
    section.append(h('div', { class: 'actions' }, grant));
  }
  await load();
  return load;
}

async function renderAudit(section, ctx) {
  const { api, fmt } = ctx;
  if (lacksRoute(api, 'GET /audit', section)) return;
  const action = field('Action', select([['', 'Every action'], ...ACTIONS.map((a) => [a, a])]));
  const body = h('tbody');
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Load more');
  const status = h('p', { class: 'muted', 'aria-live': 'polite' });
  section.append(h('div', { class: 'inline-form' }, action.wrap),
    h('div', { class: 'table-wrap' }, h('table', { class: 'cards-on-phone audit' },
      h('caption', { class: 'visually-hidden' }, 'Audit trail, newest first'),
      h('thead', {}, h('tr', {}, ['When', 'Who', 'Action', 'Patient', 'Details'].map((n) => h('th', { scope: 'col' }, n)))),
      body)), status, more);
  let cursor = null;
  let token = 0;
  async function load(reset) {
    token += 1;
    const mine = token;
    if (reset) {
      cursor = null;
      clear(body);
    }
    let page;
    try {
      page = await api.get('/audit', { action: action.control.value, limit: 25, cursor });
    } catch (error) {
      if (mine === token) status.textContent = error.message;
      return;
    }
    if (mine !== token) return; // a newer filter or page was asked for meanwhile
    for (const item of page.items) {
      body.append(h('tr', {},
        h('td', { 'data-label': 'When' }, fmt.instant(item.at)),
        h('td', { 'data-label': 'Who' }, ctx.person(item.actor)),
        h('td', { 'data-label': 'Action' }, item.action),
        h('td', { 'data-label': 'Patient' }, item.patient_id
          ? h('a', { href: patientHref(item.patient_id), class: 'id' }, item.patient_id) : ''),
        h('td', { 'data-label': 'Details' }, details(item.details, fmt))));
    }
    cursor = page.next_cursor;
    more.hidden = !cursor;
    status.textContent = body.children.length ? '' : 'No audit records match.';
  }
  action.control.addEventListener('change', () => load(true));
  more.addEventListener('click', () => load(false));
  await load(true);
  return () => load(true);
}

/** Audit details as "name: value" lines; amounts in the clinic's currency, the rest as text. */
function details(values, fmt) {
  const entries = Object.entries(values || {});
  if (!entries.length) return '';
  return h('ul', { class: 'details' }, entries.map(([name, value]) => h('li', {},
    h('span', { class: 'muted' }, `${name.replace(/_cents$/, '')}: `),
    name.endsWith('_cents') && Number.isInteger(value) ? fmt.money(value)
      : h('code', {}, typeof value === 'string' ? value : JSON.stringify(value)))));
}
