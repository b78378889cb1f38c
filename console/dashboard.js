// Dashboard: the caller's callbacks due today (overdue ones first) and the calendar feed link.

import { act, announce, clear, field, h, lacksRoute, orErrorNote, patientHref } from './dom.js';

export async function renderDashboard(view, ctx) {
  const { api, fmt } = ctx;
  view.append(h('div', { class: 'view-head' }, h('h1', {}, 'Dashboard'),
    h('p', { class: 'muted' }, `Today, ${fmt.date(fmt.today())} (${ctx.clinic.timezone})`)));
  const tasks = h('section', { class: 'panel', 'aria-label': "Today's callbacks" }, h('h2', {}, "Today's callbacks"));
  const feed = h('section', { class: 'panel', 'aria-label': 'Calendar feed' }, h('h2', {}, 'Calendar feed'));
  view.append(h('div', { class: 'columns' }, tasks, feed));

  const list = h('div');
  tasks.append(list);
  async function loadTasks() {
    if (lacksRoute(api, 'GET /tasks', clear(list))) return;
    const page = await orErrorNote(list, api.get('/tasks'));
    if (!page) return;
    const { items } = page;
    // Overdue first, then soonest first (the API sorts by due time; keep that within each group).
    const sorted = [...items.filter((t) => t.overdue), ...items.filter((t) => !t.overdue)];
    clear(list);
    if (!sorted.length) {
      list.append(h('p', { class: 'empty' }, 'No callbacks due today.'));
      return;
    }
    const canPatch = api.has('PATCH /callbacks/{callback_id}');
    list.append(h('ul', { class: 'tasks' }, sorted.map((task) => {
      const when = fmt.instant(task.due_at);
      const done = h('button', { type: 'button', class: 'secondary small', 'aria-label': `Mark the callback to ${task.patient_name || 'the patient'} done` }, 'Done');
      done.addEventListener('click', () => act(done, async () => {
        await api.patch(`/callbacks/${encodeURIComponent(task.callback_id)}`, { status: 'done' });
        announce('Callback marked done.');
        await loadTasks();
      }));
      return h('li', { class: ['task', task.overdue && 'overdue'] },
        h('div', { class: 'task-main' },
          task.overdue ? h('span', { class: 'badge overdue' }, 'Overdue') : null,
          h('span', { class: 'task-time' }, when), ' ',
          h('a', { href: patientHref(task.patient_id) }, task.patient_name || 'Patient')),
        task.notes ? h('p', { class: 'muted' }, task.notes) : null,
        canPatch ? h('div', { class: 'row-actions' }, done) : null);
    })));
  }

  // ----- calendar feed ------------------------------------------------------------------------------
  if (!lacksRoute(api, 'POST /calendar/feed', feed)) {
    const url = field('Feed link', h('input', { type: 'url', readonly: true, placeholder: 'Not created yet' }),
      { hint: 'Add it to a calendar app to see your callbacks. Anyone with the link can read them; getting a new link disables the old one.' });
    const copy = h('button', { type: 'button', class: 'secondary', disabled: true }, 'Copy link');
    const make = h('button', { type: 'button', class: 'primary' }, 'Get calendar feed link');
    make.addEventListener('click', () => act(make, async () => {
      const out = await api.post('/calendar/feed');
      url.control.value = out.url;
      copy.disabled = false;
      make.textContent = 'Get a new link';
      announce('Calendar feed link ready. Any older link stops working.');
    }));
    copy.addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText(url.control.value);
      } catch {
        url.control.select();
        document.execCommand('copy');
      }
      announce('Link copied.');
    });
    feed.append(url.wrap, h('div', { class: 'actions' }, make, copy));
  }
  await loadTasks();
}
