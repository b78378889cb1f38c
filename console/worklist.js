// Follow-ups: the worklist, most overdue first, with bucket chips and counts, balance sliders,
// an invoice-date range, a status filter and cursor paging. Filters live in the URL.

import { clear, errorNote, field, h, HOME, patientHref, select } from './dom.js';
import { holdText } from './corrections.js';
import { label } from './format.js';
import { callableFilter, contactBadge } from './contact.js';

// Balance slider stops, in the currency's major units; the last stop of "Maximum" means no limit.
const STOPS = [0, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000];
const PAGE_SIZE = 25;
// A chip's count is the number of rows that chip would show under the other filters, counted with
// the worklist query itself. GET /reports/aging is not used for it: that report puts each open
// invoice in the bucket of its own age (a patient can count in two buckets), while the worklist
// buckets a patient by the oldest open invoice.
const COUNT_PAGES = 5; // a chip counts at most 500 rows, then says "500+"

function stopIndex(cents, unit, fallback) {
  if (cents === null || cents === undefined || cents === '') return fallback;
  const major = Number(cents) / unit;
  let index = 0;
  STOPS.forEach((stop, i) => { if (stop <= major) index = i; });
  return index;
}

export async function renderWorklist(view, ctx, { params }) {
  const { api, fmt } = ctx;
  const { buckets, owingStatuses } = ctx.vocabulary;
  const statusChoices = [['', 'Any status'], ...owingStatuses.map((status) => [status, label(status)])];
  const state = {
    bucket: buckets.includes(params.get('bucket')) ? params.get('bucket') : '',
    min: stopIndex(params.get('min_balance_cents'), fmt.unit, 0),
    max: stopIndex(params.get('max_balance_cents'), fmt.unit, STOPS.length),
    from: params.get('invoice_date_from') || '',
    to: params.get('invoice_date_to') || '',
    status: owingStatuses.includes(params.get('status')) ? params.get('status') : '',
    contactable: params.get('contactable') === 'true',
  };
  if (params.get('max_balance_cents') !== null) state.max = Math.min(state.max, STOPS.length - 1);
  let cursors = [null];
  let page = 0;
  let loadToken = 0;

  const asOf = h('p', { class: 'muted as-of' });
  view.append(h('div', { class: 'view-head' }, h('h1', {}, 'Follow-ups'), asOf));

  if (!api.has('GET /follow-ups')) {
    view.append(h('div', { class: 'panel notice', role: 'note' },
      h('p', {}, 'The worklist is not available on this server yet (it needs GET /follow-ups).'),
      h('p', {}, 'Open a patient from a link, or use the other pages meanwhile.')));
    return;
  }

  // ----- filters --------------------------------------------------------------------------------
  const chips = h('div', { class: 'chips', role: 'group', 'aria-label': 'Aging bucket' });
  const chipButtons = new Map();
  for (const bucket of ['', ...buckets]) {
    const count = h('span', { class: 'count' });
    const button = h('button', { type: 'button', class: 'chip', 'aria-pressed': String(state.bucket === bucket) },
      h('span', {}, bucket ? `${bucket} days` : 'All'), ' ', count);
    button.addEventListener('click', () => {
      state.bucket = bucket;
      changed({ counts: false });
    });
    chipButtons.set(bucket, { button, count });
    chips.append(button);
  }

  const minSlider = h('input', { type: 'range', min: '0', max: String(STOPS.length - 1), step: '1', value: String(state.min) });
  const maxSlider = h('input', { type: 'range', min: '1', max: String(STOPS.length), step: '1', value: String(state.max) });
  const minOut = h('output', { class: 'slider-value' });
  const maxOut = h('output', { class: 'slider-value' });
  const minField = field('Minimum balance', minSlider);
  const maxField = field('Maximum balance', maxSlider);
  minField.wrap.append(minOut);
  maxField.wrap.append(maxOut);
  const fromField = field('Oldest invoice from', h('input', { type: 'date', value: state.from, max: fmt.today() }));
  const toField = field('Oldest invoice to', h('input', { type: 'date', value: state.to, max: fmt.today() }));
  const statusField = field('Status', select(statusChoices, { value: state.status }));
  const clearButton = h('button', { type: 'button', class: 'secondary' }, 'Clear filters');

  function minCents() {
    return state.min > 0 ? STOPS[state.min] * fmt.unit : null;
  }
  function maxCents() {
    return state.max < STOPS.length ? STOPS[state.max] * fmt.unit : null;
  }
  function showSliderValues() {
    const min = minCents();
    const max = maxCents();
    minOut.textContent = min === null ? 'No minimum' : `at least ${fmt.money(min)}`;
    maxOut.textContent = max === null ? 'No maximum' : `at most ${fmt.money(max)}`;
    minSlider.setAttribute('aria-valuetext', minOut.textContent);
    maxSlider.setAttribute('aria-valuetext', maxOut.textContent);
  }
  let debounce = null;
  minSlider.addEventListener('input', () => {
    state.min = Number(minSlider.value);
    if (state.max < STOPS.length && state.max < state.min) {
      state.max = Math.max(state.min, 1);
      maxSlider.value = String(state.max);
    }
    showSliderValues();
    clearTimeout(debounce);
    debounce = setTimeout(() => changed(), 300);
  });
  maxSlider.addEventListener('input', () => {
    state.max = Number(maxSlider.value);
    if (state.min > state.max) {
      state.min = state.max;
      minSlider.value = String(state.min);
    }
    showSliderValues();
    clearTimeout(debounce);
    debounce = setTimeout(() => changed(), 300);
  });
  fromField.control.addEventListener('change', () => { state.from = fromField.control.value; changed(); });
  toField.control.addEventListener('change', () => { state.to = toField.control.value; changed(); });
  statusField.control.addEventListener('change', () => { state.status = statusField.control.value; changed(); });
  clearButton.addEventListener('click', () => resetFilters());

  // On a phone the filters beyond the chips fold away so the rows come first.
  const moreSummary = h('summary', {}, 'More filters');
  const more = h('details', { class: 'more-filters' }, moreSummary,
    h('div', { class: 'filter-grid' }, minField.wrap, maxField.wrap, fromField.wrap, toField.wrap, statusField.wrap,
      h('div', { class: 'field field-button' }, clearButton)));
  const callable = callableFilter(state, () => changed());
  chips.append(callable.wrap);
  const filters = h('section', { class: 'filters panel', 'aria-label': 'Filters' }, chips, more);
  const results = h('section', { class: 'results', 'aria-label': 'Follow-ups' });
  const shown = h('p', { class: 'visually-hidden', 'aria-live': 'polite' });
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' });
  view.append(filters, shown, results, pager);

  function apiFilters(withBucket = true) {
    return {
      bucket: withBucket ? state.bucket : '',
      min_balance_cents: minCents(),
      max_balance_cents: maxCents(),
      invoice_date_from: state.from,
      invoice_date_to: state.to,
      status: state.status,
      contactable: state.contactable ? 'true' : '',
    };
  }

  function hiddenBy() {
    const reasons = [];
    if (state.bucket) reasons.push(`bucket ${state.bucket} days`);
    if (minCents() !== null) reasons.push(`balance at least ${fmt.money(minCents())}`);
    if (maxCents() !== null) reasons.push(`balance at most ${fmt.money(maxCents())}`);
    if (state.from) reasons.push(`oldest invoice on or after ${fmt.date(state.from)}`);
    if (state.to) reasons.push(`oldest invoice on or before ${fmt.date(state.to)}`);
    if (state.status) reasons.push(`status ${label(state.status)}`);
    if (state.contactable) reasons.push('callable now only');
    return reasons;
  }

  function writeUrl() {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(apiFilters())) {
      if (value !== null && value !== '') query.set(name, String(value));
    }
    const text = query.toString();
    window.history.replaceState(null, '', `${HOME}${text ? `?${text}` : ''}`);
  }

  function resetFilters() {
    Object.assign(state, { bucket: '', min: 0, max: STOPS.length, from: '', to: '', status: '', contactable: false });
    callable.reset();
    minSlider.value = '0';
    maxSlider.value = String(STOPS.length);
    fromField.control.value = '';
    toField.control.value = '';
    statusField.control.value = '';
    changed();
  }

  function showActiveFilters() {
    const active = hiddenBy().length - (state.bucket ? 1 : 0);
    moreSummary.textContent = active ? `More filters (${active} active)` : 'More filters';
  }

  function changed({ counts = true } = {}) {
    showActiveFilters();
    for (const [bucket, chip] of chipButtons) chip.button.setAttribute('aria-pressed', String(state.bucket === bucket));
    cursors = [null];
    page = 0;
    writeUrl();
    load();
    if (counts) loadCounts();
  }

  // ----- data -----------------------------------------------------------------------------------
  async function countBucket(bucket) {
    let total = 0;
    let cursor = null;
    for (let i = 0; i < COUNT_PAGES; i += 1) {
      const data = await api.get('/follow-ups', { ...apiFilters(false), bucket, limit: 100, cursor });
      total += data.items.length;
      cursor = data.next_cursor;
      if (!cursor) return String(total);
    }
    return `${total}+`;
  }

  let countToken = 0;
  async function loadCounts() {
    countToken += 1;
    const token = countToken;
    for (const chip of chipButtons.values()) chip.count.textContent = '…';
    const chipBuckets = [...chipButtons.keys()];
    const counts = await Promise.all(chipBuckets.map((b) => countBucket(b).catch(() => '?')));
    if (token !== countToken) return;
    chipBuckets.forEach((bucket, i) => {
      chipButtons.get(bucket).count.textContent = counts[i];
    });
  }

  async function load() {
    loadToken += 1;
    const token = loadToken;
    results.setAttribute('aria-busy', 'true');
    let data;
    try {
      data = await api.get('/follow-ups', { ...apiFilters(), limit: PAGE_SIZE, cursor: cursors[page] });
    } catch (error) {
      if (token !== loadToken) return;
      clear(results).append(errorNote(error.message));
      results.removeAttribute('aria-busy');
      return;
    }
    if (token !== loadToken) return;
    results.removeAttribute('aria-busy');
    asOf.textContent = `As of ${fmt.date(data.as_of)} (${ctx.clinic.timezone})`;
    clear(results);
    if (data.items.length === 0) {
      results.append(emptyState());
    } else {
      results.append(table(data.items));
    }
    shown.textContent = data.items.length ? `${data.items.length} follow-ups shown, page ${page + 1}.`
      : 'No follow-ups match.';
    cursors[page + 1] = data.next_cursor;
    renderPager(Boolean(data.next_cursor));
  }

  function emptyState() {
    const reasons = hiddenBy();
    if (reasons.length === 0) {
      return h('div', { class: 'empty panel' }, h('h2', {}, 'Nothing to follow up'),
        h('p', {}, 'No patient owes the clinic money right now.'));
    }
    return h('div', { class: 'empty panel' }, h('h2', {}, 'No follow-ups match these filters'),
      h('p', {}, 'Rows are hidden by: '),
      h('ul', { class: 'hidden-by' }, reasons.map((r) => h('li', {}, r))),
      h('button', { type: 'button', class: 'secondary', onclick: resetFilters }, 'Clear filters'));
  }

  function table(items) {
    const head = ['Patient', 'Balance', 'Oldest invoice', 'Days overdue', 'Status', 'Call', 'Last contact', 'Next action'];
    return h('table', { class: 'worklist cards-on-phone' },
      h('caption', { class: 'visually-hidden' }, 'Patients who owe money, most overdue first'),
      h('thead', {}, h('tr', {}, head.map((name) => h('th', { scope: 'col' }, name)))),
      h('tbody', {}, items.map((row) => h('tr', { dataset: { patientId: row.patient_id } },
        h('th', { scope: 'row', 'data-label': 'Patient' },
          h('a', { href: patientHref(row.patient_id) }, row.patient_name)),
        h('td', { 'data-label': 'Balance', class: 'num' }, fmt.money(row.balance_cents)),
        h('td', { 'data-label': 'Oldest invoice' }, fmt.date(row.oldest_invoice_date)),
        h('td', { 'data-label': 'Days overdue', class: 'num' },
          h('span', { class: ['days', `b-${bucketClass(row.bucket)}`] }, String(row.days_overdue)),
          h('span', { class: 'muted' }, ` (${row.bucket})`)),
        h('td', { 'data-label': 'Status' }, h('span', { class: ['badge', row.status] }, label(row.status)),
          row.hold ? [h('br'), h('span', { class: 'muted hold' }, holdText(fmt, row.hold))] : null),
        h('td', { 'data-label': 'Call' }, contactBadge(row.contact)),
        h('td', { 'data-label': 'Last contact' }, lastContact(row.last_attempt)),
        h('td', { 'data-label': 'Next action' }, nextAction(row.next_action))))));
  }

  function lastContact(attempt) {
    if (!attempt) return h('span', { class: 'muted' }, 'Never contacted');
    return [h('span', {}, `${label(attempt.channel)}: ${label(attempt.outcome)}`), h('br'),
      h('span', { class: 'muted' }, `${fmt.instant(attempt.at)} · ${ctx.person(attempt.by)}`)];
  }

  function nextAction(action) {
    if (!action) return h('span', { class: 'muted' }, 'None');
    return [h('span', {}, label(action.type)), h('br'), h('span', { class: 'muted' }, fmt.dateOrInstant(action.due))];
  }

  function renderPager(hasNext) {
    clear(pager);
    if (page === 0 && !hasNext) return;
    const previous = h('button', { type: 'button', class: 'secondary', disabled: page === 0 }, 'Previous page');
    const next = h('button', { type: 'button', class: 'secondary', disabled: !hasNext }, 'Next page');
    previous.addEventListener('click', () => { page -= 1; load(); });
    next.addEventListener('click', () => { page += 1; load(); });
    pager.append(previous, h('span', { class: 'page-number' }, `Page ${page + 1}`), next);
  }

  showSliderValues();
  showActiveFilters();
  more.open = window.matchMedia('(min-width: 761px)').matches || hiddenBy().length > (state.bucket ? 1 : 0);
  load();
  loadCounts();
}

export function bucketClass(bucket) {
  return String(bucket || '').replace('+', 'plus');
}
