// Reports: the aging report as an SVG bar chart (no chart library) with its table, and the
// staff-performance table with CSV download.

import { act, announce, clear, download, errorNote, field, h, lacksRoute, orErrorNote, svg } from './dom.js';
import { label } from './format.js';
import { bucketClass } from './worklist.js';
import { renderCompliance } from './contact.js';

export async function renderReports(view, ctx) {
  view.append(h('div', { class: 'view-head' }, h('h1', {}, 'Reports')));
  const aging = h('section', { class: 'panel', 'aria-label': 'Aging' }, h('h2', {}, 'Aging'));
  view.append(aging);
  const tasks = [renderAging(aging, ctx)];
  if (ctx.isOwnerOrAdmin) {
    const staff = h('section', { class: 'panel', 'aria-label': 'Staff performance' }, h('h2', {}, 'Staff performance'));
    view.append(staff);
    tasks.push(renderStaffPerformance(staff, ctx));
    const compliance = h('section', { class: 'panel', 'aria-label': 'Contact compliance' }, h('h2', {}, 'Contact compliance'));
    view.append(compliance);
    tasks.push(renderCompliance(compliance, ctx, { firstOfMonth }));
  }
  await Promise.all(tasks);
}

export function agingChart(buckets, fmt) {
  const width = 640;
  const height = 280;
  const top = 28;
  const bottom = 44;
  const left = 12;
  const slot = (width - left * 2) / buckets.length;
  const barWidth = Math.min(96, slot * 0.6);
  const max = Math.max(1, ...buckets.map((b) => b.balance_cents));
  const summary = buckets.map((b) => `${b.bucket} days: ${fmt.money(b.balance_cents)}`).join('; ');
  const chart = svg('svg', {
    viewBox: `0 0 ${width} ${height}`, role: 'img', class: 'chart', 'aria-label': `Balance by aging bucket. ${summary}`,
  });
  chart.append(svg('line', { x1: left, x2: width - left, y1: height - bottom, y2: height - bottom, class: 'axis' }));
  buckets.forEach((b, i) => {
    const barHeight = Math.round(((height - top - bottom) * b.balance_cents) / max);
    const x = left + slot * i + (slot - barWidth) / 2;
    const y = height - bottom - barHeight;
    chart.append(
      svg('rect', { x, y, width: barWidth, height: Math.max(barHeight, b.balance_cents ? 2 : 0), rx: 4,
        class: `bar b-${bucketClass(b.bucket)}` }),
      svg('text', { x: x + barWidth / 2, y: y - 8, 'text-anchor': 'middle', class: 'value' }, fmt.money(b.balance_cents)),
      svg('text', { x: x + barWidth / 2, y: height - bottom + 20, 'text-anchor': 'middle', class: 'label' }, `${b.bucket} days`),
      svg('text', { x: x + barWidth / 2, y: height - bottom + 36, 'text-anchor': 'middle', class: 'sublabel' },
        `${b.invoices} invoice${b.invoices === 1 ? '' : 's'}`),
    );
  });
  return chart;
}

function csvCell(value) {
  const text = String(value ?? '');
  // Quote when needed, and defuse spreadsheet formulas in text cells.
  const safe = /^[=+\-@\t\r]/.test(text) && !/^-?\d+$/.test(text) ? `'${text}` : text;
  return /[",\n\r]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

export function toCsv(rows) {
  return `${rows.map((row) => row.map(csvCell).join(',')).join('\r\n')}\r\n`;
}

async function renderAging(section, ctx) {
  const { api, fmt } = ctx;
  if (lacksRoute(api, 'GET /reports/aging', section)) return;
  let report;
  try {
    report = await api.get('/reports/aging');
  } catch (error) {
    section.append(errorNote(error.message));
    return;
  }
  const rows = report.buckets.map((b) => [`${b.bucket} days`, String(b.invoices), String(b.patients), fmt.money(b.balance_cents)]);
  const csv = h('button', { type: 'button', class: 'secondary' }, 'Download aging CSV');
  csv.addEventListener('click', () => {
    download(new Blob([toCsv([['bucket', 'invoices', 'patients', 'balance_cents'],
      ...report.buckets.map((b) => [b.bucket, b.invoices, b.patients, b.balance_cents]),
      ['total', '', '', report.total_cents], ['plan_remainder', '', '', report.plan_remainder_cents]])],
    { type: 'text/csv' }), `aging-${report.as_of}.csv`);
    announce('Aging CSV downloaded.');
  });
  section.append(
    h('p', { class: 'muted' }, `As of ${fmt.date(report.as_of)}. Each open invoice counts in the bucket of its own age.`),
    agingChart(report.buckets, fmt),
    h('div', { class: 'table-wrap' }, h('table', { class: 'cards-on-phone' },
      h('caption', {}, 'Open invoices by age'),
      h('thead', {}, h('tr', {}, ['Bucket', 'Invoices', 'Patients', 'Balance'].map((n) => h('th', { scope: 'col' }, n)))),
      h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c, i) => h('td', { 'data-label': ['Bucket', 'Invoices', 'Patients', 'Balance'][i] }, c))))),
      h('tfoot', {},
        h('tr', {}, h('th', { scope: 'row' }, 'Total'), h('td'), h('td'), h('td', { 'data-label': 'Total' }, fmt.money(report.total_cents))),
        h('tr', {}, h('th', { scope: 'row' }, 'Plans, not yet invoiced'), h('td'), h('td'),
          h('td', { 'data-label': 'Plans, not yet invoiced' }, fmt.money(report.plan_remainder_cents)))))),
    h('div', { class: 'actions' }, csv));
}

function firstOfMonth(ymd) {
  return `${ymd.slice(0, 8)}01`;
}

function breakdown(counts) {
  const parts = Object.entries(counts || {}).filter(([, n]) => n).map(([name, n]) => `${label(name)} ${n}`);
  return parts.length ? parts.join(' · ') : '-';
}

async function renderStaffPerformance(section, ctx) {
  const { api, fmt } = ctx;
  if (lacksRoute(api, 'GET /reports/staff-performance', section)) return;
  const today = fmt.today();
  const from = field('From', h('input', { type: 'date', value: firstOfMonth(today) }));
  const to = field('To', h('input', { type: 'date', value: today }));
  const show = h('button', { type: 'submit', class: 'primary' }, 'Show');
  const csv = h('button', { type: 'button', class: 'secondary' }, 'Download CSV');
  const form = h('form', { class: 'inline-form', novalidate: true }, from.wrap, to.wrap, h('div', { class: 'field field-button' }, show));
  const out = h('div', { 'aria-live': 'polite' });
  section.append(form, out, h('div', { class: 'actions' }, csv));

  const range = () => ({ from: from.control.value, to: to.control.value });
  async function load() {
    const report = await orErrorNote(out, api.get('/reports/staff-performance', { ...range(), format: 'json' }));
    if (!report) return;
    const head = ['Staff member', 'Attempts', 'By channel', 'By outcome', 'Promises made', 'Kept', 'Broken',
      'Callbacks done', 'Callbacks overdue', 'Recovered'];
    clear(out).append(report.items.length === 0 ? h('p', { class: 'muted' }, 'No staff activity in this range.')
      : h('div', { class: 'table-wrap' }, h('table', { class: 'cards-on-phone' },
        h('caption', { class: 'visually-hidden' }, `Staff performance from ${report.from} to ${report.to}`),
        h('thead', {}, h('tr', {}, head.map((n) => h('th', { scope: 'col' }, n)))),
        h('tbody', {}, report.items.map((m) => h('tr', {},
          [m.name, String(m.attempts), breakdown(m.by_channel), breakdown(m.by_outcome), String(m.promises_made),
            String(m.promises_kept), String(m.promises_broken), String(m.callbacks_done), String(m.callbacks_overdue),
            fmt.money(m.recovered_cents)].map((c, i) => h(i === 0 ? 'th' : 'td', { 'data-label': head[i], scope: i === 0 ? 'row' : null }, c))))))));
  }
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    load();
  });
  csv.addEventListener('click', () => act(csv, async () => {
    const response = await api.send('GET', '/reports/staff-performance', { query: { ...range(), format: 'csv' }, raw: true });
    download(await response.blob(), `staff-performance-${range().from}-to-${range().to}.csv`);
    announce('Staff performance CSV downloaded.');
  }));
  await load();
}
