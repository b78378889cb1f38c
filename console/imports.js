// The import page: a CSV of open balances, previewed, then sent (POST /imports) with the result.

import { clear, errorNote, field, h } from './dom.js';

const PREVIEW_ROWS = 5;
const CHUNK = 1000;

/** Rows of a CSV text (RFC 4180 quotes), as arrays of cells. */
export function parseCsv(text) {
  const rows = [];
  let row = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i += 1; } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(cell); cell = ''; } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i += 1;
      row.push(cell); rows.push(row); row = []; cell = '';
    } else cell += c;
  }
  if (cell || row.length) { row.push(cell); rows.push(row); }
  return rows.filter((r) => r.some((v) => v !== ''));
}

export async function renderImport(view, ctx) {
  const file = field('CSV file', h('input', { type: 'file', accept: '.csv,text/csv', name: 'file' }),
    { hint: 'A header row, then one open invoice per row (docs/import-template.csv).' });
  const preview = h('div', {});
  const result = h('div', { 'aria-live': 'polite' });
  const send = h('button', { type: 'button', class: 'primary', disabled: true }, 'Import');
  let text = '';
  view.append(h('h1', {}, 'Import'), h('p', { class: 'muted' },
    'Bring a clinic\'s open balances in. Rows are matched by external id: importing the same file again creates nothing.'),
  h('div', { class: 'panel' }, file.wrap, preview, send), result);

  file.control.addEventListener('change', async () => {
    clear(result);
    const chosen = file.control.files[0];
    text = chosen ? (await chosen.text()).replace(/^\uFEFF/, '') : '';
    const rows = parseCsv(text);
    send.disabled = rows.length < 2;
    if (rows.length < 2) {
      clear(preview).append(errorNote('The file has no data rows.'));
      return;
    }
    const [header, ...data] = rows;
    clear(preview).append(h('h2', {}, `Preview: ${data.length} row${data.length === 1 ? '' : 's'}`),
      h('div', { class: 'table-wrap' }, h('table', {}, h('caption', { class: 'visually-hidden' }, 'First rows'),
        h('thead', {}, h('tr', {}, header.map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, data.slice(0, PREVIEW_ROWS).map((r) => h('tr', {}, r.map((c) => h('td', {}, c))))))));
  });

  send.addEventListener('click', async () => {
    send.disabled = true;
    const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
    const [header, ...data] = lines;
    const total = { rows: 0, patients_created: 0, patients_updated: 0, invoices_created: 0, invoices_unchanged: 0, errors: [] };
    clear(result).append(h('p', { class: 'loading' }, 'Importing…'));
    try {
      // Chunks of at most 1,000 lines (a quoted cell with a line break would need the CLI).
      for (let start = 0; start < data.length; start += CHUNK) {
        const part = await ctx.api.sendText('POST', '/imports', [header, ...data.slice(start, start + CHUNK)].join('\n'),
          'text/csv');
        for (const k of ['rows', 'patients_created', 'patients_updated', 'invoices_created', 'invoices_unchanged']) total[k] += part[k];
        total.errors.push(...part.errors.map((e) => ({ ...e, row: e.row + start })));
      }
    } catch (error) {
      clear(result).append(errorNote(error.message));
      send.disabled = false;
      return;
    }
    const facts = [['Rows', total.rows], ['Patients created', total.patients_created],
      ['Patients updated', total.patients_updated], ['Invoices created', total.invoices_created],
      ['Invoices already there', total.invoices_unchanged], ['Rows with errors', new Set(total.errors.map((e) => e.row)).size]];
    clear(result).append(h('section', { class: 'panel', 'aria-label': 'Import result' }, h('h2', {}, 'Import result'),
      h('dl', { class: 'facts' }, facts.map(([t, v]) => h('div', {}, h('dt', {}, t), h('dd', {}, String(v))))),
      total.errors.length ? h('div', { class: 'table-wrap' }, h('table', {},
        h('caption', {}, 'Row errors (these rows were not imported)'),
        h('thead', {}, h('tr', {}, ['Row', 'Column', 'Problem'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, total.errors.map((e) => h('tr', {}, h('td', {}, String(e.row)), h('td', {}, e.field),
          h('td', {}, e.message)))))) : h('p', {}, 'Every row was imported.')));
    send.disabled = false;
  });
}
