// Dashboard: the caller's callbacks due today (overdue ones first) and the calendar feed link.

import { announce, clear, field, h } from './dom.js';

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
    if (!api.has('GET /tasks')) {
      clear(list).append(h('p', { class: 'muted' }, 'Not available on this server yet (needs GET /tasks).'));
      return;
    }
    let items;
    try {
      items = (await api.get('/tasks')).items;
    } catch (error) {
      clear(list).append(h('p', { class: 'form-error', role: 'alert' }, error.message));
      return;
    }
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
      done.addEventListener('click', async () => {
        done.disabled = true;
        try {
          await api.patch(`/callbacks/${encodeURIComponent(task.callback_id)}`, { status: 'done' });
          announce('Callback marked done.');
          await loadTasks();
        } catch (error) {
          announce(error.message, 'error');
          done.disabled = false;
        }
      });
      return h('li', { class: ['task', task.overdue && 'overdue'] },
        h('div', { class: 'task-main' },
          task.overdue ? h('span', { class: 'badge overdue' }, 'Overdue') : null,
          h('span', { class: 'task-time' }, when), ' ',
          h('a', { href: `#/patients/${encodeURIComponent(task.patient_id)}` }, task.patient_name || 'Patient')),
        task.notes ? h('p', { class: 'muted' }, task.notes) : null,
        canPatch ? h('div', { class: 'row-actions' }, done) : null);
    })));
  }

  // ----- calendar feed ------------------------------------------------------------------------------
  if (!api.has('POST /calendar/feed')) {
    feed.append(h('p', { class: 'muted' }, 'Not available on this server yet (needs POST /calendar/feed).'));
  } else {
    const url = field('Feed link', h('input', { type: 'url', readonly: true, placeholder: 'Not created yet' }),
      { hint: 'Add it to a calendar app to see your callbacks. Anyone with the link can read them; getting a new link disables the old one.' });
    const copy = h('button', { type: 'button', class: 'secondary', disabled: true }, 'Copy link');
    const make = h('button', { type: 'button', class: 'primary' }, 'Get calendar feed link');
    make.addEventListener('click', async () => {
      make.disabled = true;
      try {
        const out = await api.post('/calendar/feed');
        url.control.value = out.url;
        copy.disabled = false;
        make.textContent = 'Get a new link';
        announce('Calendar feed link ready. Any older link stops working.');
      } catch (error) {
        announce(error.message, 'error');
      } finally {
        make.disabled = false;
      }
    });
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
