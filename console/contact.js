// Contact rules in the console (issue 19): the worklist row's badge ("Call now" / "Blocked: ..."),
// the "Callable now" filter, the warning before logging an attempt that breaks a rule, the
// override prompt when a callback is refused (409 contact_rule), and the compliance report with
// a chart of flagged attempts per member (inline SVG). The screens call these from small hooks.

import { act, announce, clear, download, field, h, lacksRoute, orErrorNote, svg } from './dom.js';
import { label } from './format.js';

const RULE_WORDS = {
  do_not_contact: 'asked not to be called',
  outside_call_hours: 'outside call hours',
  call_cap: 'call limit for the week reached',
  recent_conversation: 'spoke recently',
  on_hold: 'on hold',
};

/** "21:40" on the wall clock of `zone` (24-hour); with the day when it is 24 hours or more after
 * `ref` (within a day, "next 08:00" can only mean the next 08:00 to come). */
export function wallTime(iso, zone, ref = null) {
  const at = new Date(iso);
  const time = new Intl.DateTimeFormat('en-GB', { timeZone: zone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(at);
  if (!ref || at.getTime() - new Date(ref).getTime() < 86400000) return time;
  const weekday = new Intl.DateTimeFormat('en-GB', { timeZone: zone, weekday: 'short', day: 'numeric', month: 'short' }).format(at);
  return `${weekday} ${time}`;
}

/** The words of a row's contact state, for a clerk at a glance. */
export function contactText(contact, now = new Date()) {
  if (!contact) return '';
  if (contact.call_now) return 'Call now';
  const zone = contact.timezone || 'UTC';
  const why = contact.blocked_by.map((rule) => RULE_WORDS[rule] || label(rule));
  const hours = contact.blocked_by.includes('outside_call_hours');
  const head = hours ? `${wallTime(now.toISOString(), zone)} for the patient` : why[0];
  const others = (hours ? why.filter((w) => w !== RULE_WORDS.outside_call_hours) : why.slice(1));
  const next = contact.next_call_at ? `next ${wallTime(contact.next_call_at, zone, now)}` : 'no call until they change it';
  return `Blocked: ${[head, ...others].join(', ')}, ${next}`;
}

export function contactBadge(contact) {
  if (!contact) return h('span', { class: 'muted' }, '-');
  const text = contactText(contact);
  return h('span', {
    class: ['badge', 'contact', contact.call_now ? 'call-now' : 'blocked'],
    title: contact.blocked_by.map((r) => label(r)).join(', ') || 'No contact rule blocks a call now',
    dataset: { testid: 'contact-badge' },
  }, text);
}

/** The "Callable now" toggle of the worklist: `state.contactable` true/false, `onChange` reloads. */
export function callableFilter(state, onChange) {
  const box = h('input', { type: 'checkbox', checked: state.contactable, dataset: { testid: 'callable-now' } });
  box.addEventListener('change', () => {
    state.contactable = box.checked;
    onChange();
  });
  const wrap = h('label', { class: 'chip callable-filter' }, box, ' Callable now');
  return { wrap, reset() { box.checked = false; } };
}

/** Would an attempt on `channel` break a rule, by the row's contact state? A sentence, or ''. */
export function attemptWarning(contact, channel) {
  if (!contact || contact.call_now) return '';
  const rules = contact.blocked_by.filter((rule) => (channel === 'phone' ? true
    : rule === 'on_hold' && channel !== 'in_person'));
  if (!rules.length) return '';
  return `This ${channel === 'phone' ? 'call' : 'contact'} breaks a contact rule (${rules.map((r) => RULE_WORDS[r] || r).join(', ')}). `
    + 'It is logged anyway and flagged in the compliance report.';
}

/** A warning line for the attempt form that follows the chosen channel. */
export function attemptWarningNote(contact, channelSelect) {
  const note = h('p', { class: 'warning', role: 'status', dataset: { testid: 'attempt-warning' } });
  const show = () => {
    const text = attemptWarning(contact, channelSelect.value);
    note.textContent = text;
    note.hidden = !text;
  };
  channelSelect.addEventListener('change', show);
  show();
  return note;
}

/** The override reason of a callback form: hidden until the API refuses the time (409 contact_rule);
 * then it says why and when a call is allowed, and the next submit sends the reason. */
export function overridePrompt(zoneHint) {
  const input = h('input', { type: 'text', minlength: '3', maxlength: '200', autocomplete: 'off',
    dataset: { testid: 'override-reason' } });
  const reason = field('Reason to schedule it anyway', input, { hint: '3-200 characters; kept and audited' });
  const why = h('p', { class: 'warning', role: 'alert' });
  const wrap = h('div', { class: 'override', hidden: true }, why, reason.wrap);
  return {
    wrap,
    /** The body with the reason when the prompt is showing. */
    apply(body) {
      if (!wrap.hidden && input.value.trim()) return { ...body, override_reason: input.value.trim() };
      return body;
    },
    /** True when the error was the contact rule (the prompt now shows). */
    handle(error) {
      if (!error || error.code !== 'contact_rule') return false;
      const rules = Object.keys(error.fields || {}).map((r) => RULE_WORDS[r] || r).join(', ');
      const next = error.body && error.body.next_call_at;
      const zone = zoneHint || 'UTC';
      why.textContent = `A contact rule blocks a call then (${rules}).`
        + (next ? ` The first allowed time is ${wallTime(next, zone, new Date())} (${zone}).` : '')
        + ' Give a reason to schedule it anyway, or choose another time.';
      wrap.hidden = false;
      input.focus();
      return true;
    },
  };
}

// ----- the compliance report --------------------------------------------------------------------
export function flaggedChart(items) {
  const width = 640;
  const rowHeight = 28;
  const left = 160;
  const height = 24 + rowHeight * Math.max(1, items.length);
  const totals = items.map((m) => Object.values(m.flagged || {}).reduce((a, b) => a + b, 0));
  const max = Math.max(1, ...totals);
  const summary = items.map((m, i) => `${m.name}: ${totals[i]} flagged`).join('; ');
  const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', class: 'chart flagged-chart',
    'aria-label': `Flagged attempts per staff member. ${summary}` });
  items.forEach((m, i) => {
    const y = 12 + rowHeight * i;
    const barWidth = Math.round(((width - left - 60) * totals[i]) / max);
    chart.append(
      svg('text', { x: left - 8, y: y + 16, 'text-anchor': 'end', class: 'label' }, m.name),
      svg('rect', { x: left, y: y + 4, width: Math.max(barWidth, totals[i] ? 2 : 0), height: rowHeight - 10, rx: 3,
        class: 'bar flagged' }),
      svg('text', { x: left + barWidth + 6, y: y + 16, class: 'value' }, String(totals[i])),
    );
  });
  return chart;
}

export async function renderCompliance(section, ctx, { firstOfMonth }) {
  const { api, fmt } = ctx;
  if (lacksRoute(api, 'GET /reports/contact-compliance', section)) return;
  const today = fmt.today();
  const from = field('From', h('input', { type: 'date', value: firstOfMonth(today) }));
  const to = field('To', h('input', { type: 'date', value: today }));
  const show = h('button', { type: 'submit', class: 'primary' }, 'Show');
  const csv = h('button', { type: 'button', class: 'secondary' }, 'Download compliance CSV');
  const form = h('form', { class: 'inline-form', novalidate: true }, from.wrap, to.wrap,
    h('div', { class: 'field field-button' }, show));
  const out = h('div', { 'aria-live': 'polite' });
  section.append(h('p', { class: 'muted' }, 'Attempts that broke a contact rule, and callbacks scheduled past one with a reason.'),
    form, out, h('div', { class: 'actions' }, csv));
  const range = () => ({ from: from.control.value, to: to.control.value });

  async function load() {
    const report = await orErrorNote(out, api.get('/reports/contact-compliance', { ...range(), format: 'json' }));
    if (!report) return;
    const rules = report.items.length ? Object.keys(report.items[0].flagged) : [];
    const head = ['Staff member', 'Attempts', ...rules.map((r) => label(r)), 'Overrides'];
    clear(out).append(flaggedChart(report.items), h('div', { class: 'table-wrap' }, h('table', { class: 'cards-on-phone' },
      h('caption', { class: 'visually-hidden' }, `Contact compliance from ${report.from} to ${report.to}`),
      h('thead', {}, h('tr', {}, head.map((n) => h('th', { scope: 'col' }, n)))),
      h('tbody', {}, report.items.map((m) => h('tr', {},
        [m.name, String(m.attempts), ...rules.map((r) => String(m.flagged[r])), String(m.overrides)]
          .map((c, i) => h(i === 0 ? 'th' : 'td', { 'data-label': head[i], scope: i === 0 ? 'row' : null }, c))))))));
  }
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    load();
  });
  csv.addEventListener('click', () => act(csv, async () => {
    const response = await api.send('GET', '/reports/contact-compliance', { query: { ...range(), format: 'csv' }, raw: true });
    download(await response.blob(), `contact-compliance-${range().from}-to-${range().to}.csv`);
    announce('Compliance CSV downloaded.');
  }));
  await load();
}
