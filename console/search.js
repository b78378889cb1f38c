// The top bar's patient search: a word of the name, phone digits or an email; opens the patient panel.

import { clear, h, patientHref } from './dom.js';

export function searchBox(ctx) {
  const input = h('input', { type: 'search', id: 'patient-search', placeholder: 'Find a patient', autocomplete: 'off',
    'aria-label': 'Find a patient', 'aria-controls': 'patient-search-results' });
  const results = h('ul', { id: 'patient-search-results', class: 'search-results', role: 'listbox', hidden: true });
  const form = h('form', { class: 'patient-search', role: 'search' }, input, results);
  let asked = 0;

  async function find() {
    const q = input.value.trim();
    const mine = ++asked;
    if (q.length < 2) {
      results.hidden = true;
      return;
    }
    let items = [];
    try {
      items = (await ctx.api.get('/patients', { q, limit: 8 })).items;
    } catch {
      items = [];
    }
    if (mine !== asked) return; // a later keystroke asked again
    clear(results).append(...(items.length ? items.map((p) => h('li', { role: 'option' },
      h('a', { href: patientHref(p.patient_id), onclick: () => { results.hidden = true; input.value = ''; } },
        p.name, p.phone ? h('span', { class: 'muted' }, ` · ${p.phone}`) : ''))) : [h('li', { class: 'muted' }, 'No patient found')]));
    results.hidden = false;
  }
  let timer = null;
  input.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(find, 200); });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearTimeout(timer);
    await find();
    const first = results.querySelector('a');
    if (first) first.click();
  });
  return form;
}
