// The patient panel's "Edit details" form (PATCH /patients/{id}): kept apart from patient.js.

import { announce, field, formDialog, h } from './dom.js';

const CHANNELS = ['phone', 'email', 'sms', 'in_person'];

// The patient's contact preferences as the panel shows them (what the contact rules use).
export function preferencesFact(ctx, p) {
  const parts = [`Time zone ${p.timezone || `${ctx.clinic.timezone} (the clinic's)`}`];
  if ((p.do_not_contact || []).length) parts.push(`Do not contact by ${p.do_not_contact.join(', ')}`);
  if (p.preferred_channel) parts.push(`Prefers ${p.preferred_channel}`);
  return h('div', { 'data-testid': 'preferences' }, h('dt', {}, 'Contact preferences'), h('dd', {}, parts.join(' · ')));
}

export function editDetailsButton(ctx, patient, reload) {
  if (!ctx.api.has('PATCH /patients/{patient_id}')) return null;
  return h('button', { type: 'button', class: 'secondary', onclick: () => editDetails(ctx, patient, reload) },
    'Edit details');
}

async function editDetails(ctx, p, reload) {
  let f = null;
  const saved = await formDialog({
    title: 'Edit patient details',
    submitLabel: 'Save',
    build(form) {
      const text = (label, name, value, attrs = {}) => field(label, h('input', { type: 'text', name, value: value || '', ...attrs }));
      f = {
        name: text('Name', 'name', p.name, { required: true }),
        phone: text('Phone', 'phone', p.phone),
        email: text('Email', 'email', p.email, { type: 'email' }),
        external_id: text('External id', 'external_id', p.external_id),
        timezone: text('Time zone', 'timezone', p.timezone, { placeholder: `${ctx.clinic.timezone} (the clinic's)` }),
        preferred_channel: field('Preferred channel', h('select', { name: 'preferred_channel' },
          h('option', { value: '' }, 'None'), CHANNELS.map((c) => h('option', { value: c, selected: p.preferred_channel === c }, c)))),
      };
      const boxes = CHANNELS.map((c) => h('label', { class: 'check' },
        h('input', { type: 'checkbox', name: 'do_not_contact', value: c, checked: (p.do_not_contact || []).includes(c) }), ` ${c}`));
      form.append(...Object.values(f).map((x) => x.wrap), h('fieldset', {}, h('legend', {}, 'Do not contact by'), boxes));
      f.do_not_contact = { setError: () => {} };
      return f;
    },
    async submit() {
      const value = (k) => f[k].control.value.trim();
      const body = { name: value('name') };
      for (const k of ['phone', 'email', 'external_id', 'timezone', 'preferred_channel']) body[k] = value(k) || null;
      body.do_not_contact = [...document.querySelectorAll('dialog input[name="do_not_contact"]:checked')].map((b) => b.value);
      return ctx.api.patch(`/patients/${encodeURIComponent(p.patient_id)}`, body);
    },
  });
  if (saved) {
    announce('Patient details saved');
    await reload();
  }
}
