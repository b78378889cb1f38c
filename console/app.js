// The console's entry point: configuration, sign-in, the page frame, and the hash router.

import { Api } from './api.js';
import { Session } from './auth.js';
import { renderDashboard } from './dashboard.js';
import { announce, clear, errorNote, h, HOME, setLiveRegion } from './dom.js';
import { Formatter, label } from './format.js';
import { renderImport } from './imports.js';
import { renderIntegrations } from './integrations.js';
import { renderPatient } from './patient.js';
import { enrolMfa } from './mfa.js';
import { renderReports } from './reports.js';
import { renderSignIn } from './signin.js';
import { searchBox } from './search.js';
import { renderTeam } from './team.js';
import { renderWorklist } from './worklist.js';

const main = document.getElementById('main');
const topbar = document.getElementById('topbar');
let ctx = null;
let heartbeat = null;

const PAGES = [
  { hash: HOME, title: 'Follow-ups', render: renderWorklist, visible: () => true },
  { hash: '#/dashboard', title: 'Dashboard', render: renderDashboard, visible: () => true },
  { hash: '#/reports', title: 'Reports', render: renderReports, visible: () => true },
  { hash: '#/team', title: 'Team', render: renderTeam, visible: (c) => c.isOwnerOrAdmin },
  { hash: '#/integrations', title: 'Integrations', render: renderIntegrations,
    visible: (c) => c.isOwnerOrAdmin && c.api.has('GET /integrations') },
  { hash: '#/import', title: 'Import', render: renderImport, visible: (c) => c.isOwnerOrAdmin && c.api.has('POST /imports') },
];

async function loadConfig() {
  const response = await fetch('config.json', { cache: 'no-store' });
  if (!response.ok) throw new Error(`config.json answered ${response.status}`);
  return response.json();
}

function showProblem(message) {
  clear(main).append(h('div', { class: 'panel problem', role: 'alert' }, h('h1', {}, 'The console cannot start'),
    h('p', {}, message)));
}

function showSignIn(session, reason) {
  topbar.hidden = true;
  renderSignIn(main, session, reason, async () => {
    try {
      await enter(session);
    } catch (e) {
      session.end(`Signed in, but the console could not load your clinic: ${e.message}`);
    }
  });
}

function personName(context, sub) {
  if (!sub) return '';
  if (sub === 'system') return 'System';
  if (sub === context.me.sub) return 'You';
  // Members who left are not in the staff list, but the team page learns them (`formerStaff`).
  const member = (context.staffBySub && context.staffBySub.get(sub))
    || (context.formerStaff && context.formerStaff.get(sub));
  return member ? member.name : `Staff ${sub.slice(0, 8)}`;
}

async function enter(session) {
  const api = new Api(session.config.api_url, session);
  const [me, clinic, vocabulary] = await Promise.all([api.get('/me'), api.get('/clinic'), api.loadContract()]);
  const roles = new Set(me.roles || []);
  // Closures below use `context`, not the module's `ctx`: signing out sets `ctx` to null while a
  // page may still be rendering with the context it started with.
  const context = {
    api,
    session,
    me,
    clinic,
    vocabulary,
    fmt: new Formatter(clinic, navigator.language),
    isOwner: roles.has('Owner'),
    isOwnerOrAdmin: roles.has('Owner') || roles.has('Admin'),
    permissions: new Set(me.permissions || []),
    staffBySub: null,
    go: (hash) => { window.location.hash = hash; },
  };
  context.person = (sub) => personName(context, sub);
  context.staff = async ({ fresh = false } = {}) => {
    // Owners and Admins may list the staff; everyone else knows only themselves.
    if (context.staffBySub && !fresh) return context.staffBySub;
    let items = [{ sub: me.sub, email: me.email, name: me.email, role: (me.roles || [])[0] }];
    if (context.isOwnerOrAdmin && api.has('GET /staff')) {
      try {
        items = (await api.get('/staff')).items;
      } catch {
        /* keep the caller only */
      }
    }
    context.staffBySub = new Map(items.map((m) => [m.sub, m]));
    return context.staffBySub;
  };
  ctx = context;
  // A member deactivated (or demoted) while this tab is open: the API says so within a minute
  // (its staff cache is shorter than a minute less this interval), and a 401 ends the session.
  clearInterval(heartbeat);
  heartbeat = setInterval(() => {
    if (ctx === context && document.visibilityState !== 'hidden') api.get('/me').catch(() => {});
  }, 1000 * (session.config.session_check_seconds || 25));
  if (context.isOwnerOrAdmin) await context.staff();
  if (ctx !== context) return; // signed out while the staff list loaded
  renderFrame();
  route();
}

function renderFrame() {
  topbar.hidden = false;
  document.getElementById('clinic-name').textContent = ctx.clinic.name;
  const nav = clear(document.getElementById('nav'));
  for (const page of PAGES) {
    if (page.visible(ctx)) nav.append(h('a', { href: page.hash }, page.title));
  }
  if (ctx.api.has('GET /patients')) nav.append(searchBox(ctx));
  const role = (ctx.me.roles || []).map(label).join(', ');
  clear(document.getElementById('user')).append(
    h('span', { class: 'who' }, h('span', { class: 'email' }, ctx.me.email), h('span', { class: 'role' }, role)),
    h('button', {
      type: 'button',
      class: 'secondary small',
      onclick: () => enrolMfa(ctx),
    }, 'Two-step sign-in'),
    h('button', {
      type: 'button',
      class: 'secondary small',
      onclick: () => {
        window.history.replaceState(null, '', HOME);
        ctx.session.signOut();
      },
    }, 'Sign out'),
  );
}

function parseHash() {
  const hash = window.location.hash || HOME;
  const [path, query = ''] = hash.split('?');
  return { path, params: new URLSearchParams(query) };
}

async function route() {
  if (!ctx) return;
  const { path, params } = parseHash();
  let page = PAGES.find((p) => p.hash === path);
  let args = {};
  const patient = /^#\/patients\/([^/]+)$/.exec(path);
  if (patient) {
    page = { title: 'Patient', render: renderPatient };
    args = { patientId: decodeURIComponent(patient[1]) };
  }
  for (const link of document.querySelectorAll('#nav a')) {
    if (link.getAttribute('href') === (page && page.hash)) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  const view = h('div', { class: 'view' });
  clear(main).append(view);
  if (!page || (page.visible && !page.visible(ctx))) {
    view.append(h('h1', { tabindex: '-1' }, 'Not found'), h('p', {}, 'There is no such page. ',
      h('a', { href: HOME }, 'Back to the follow-ups')));
    return;
  }
  document.title = `${page.title} · Clinic Follow-ups`;
  try {
    await page.render(view, ctx, { params, ...args });
  } catch (error) {
    if (error.code === 'signed_out' || error.code === 'unauthorized') return;
    view.append(errorNote(error.message || String(error)));
  }
  const heading = view.querySelector('h1');
  if (heading && window.location.hash) {
    heading.setAttribute('tabindex', '-1');
    heading.focus({ preventScroll: false });
  }
}

async function boot() {
  setLiveRegion(document.getElementById('toasts'));
  document.getElementById('skip-link').addEventListener('click', (event) => {
    event.preventDefault();
    main.focus();
  });
  let config;
  try {
    config = await loadConfig();
  } catch (error) {
    showProblem(`Its configuration (config.json) could not be loaded: ${error.message}`);
    return;
  }
  const session = new Session(config);
  session.onEnd = (reason) => {
    ctx = null;
    clearInterval(heartbeat);
    if (reason) announce(reason, 'error');
    showSignIn(session, reason);
  };
  window.addEventListener('hashchange', route);
  if (!session.signedIn) {
    showSignIn(session);
    return;
  }
  try {
    await enter(session);
  } catch (error) {
    if (session.signedIn) session.end(error.message);
  }
}

boot();
