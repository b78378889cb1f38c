// Building the page: elements from data through textContent and attributes only (never
// innerHTML with data), labelled form fields, dialogs, and one polite live region.

const SVG_NS = 'http://www.w3.org/2000/svg';
const PROPERTIES = new Set(['value', 'checked', 'selected', 'indeterminate']);
let counter = 0;

export function uid(prefix = 'id') {
  counter += 1;
  return `${prefix}-${counter}`;
}

function setAttributes(el, attrs) {
  const late = {};
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === 'class') {
      el.setAttribute('class', Array.isArray(value) ? value.filter(Boolean).join(' ') : value);
    } else if (name === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (PROPERTIES.has(name)) {
      late[name] = value;
    } else {
      el.setAttribute(name, value === true ? '' : String(value));
    }
  }
  return late;
}

export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

/** h('a', {href: '#/x'}, 'text', otherNode) - strings always become text nodes. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  const late = setAttributes(el, attrs);
  append(el, children);
  Object.assign(el, late); // a <select>'s value once its options exist
  return el;
}

export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined) el.setAttribute(name, String(value));
  }
  return append(el, children);
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

/**
 * A labelled control: returns {wrap, control, setError}. `control` gets an id, the label's
 * `for`, and `aria-describedby` pointing at the hint and the error message.
 */
export function field(label, control, { hint = null, className = '' } = {}) {
  const id = control.id || uid('f');
  control.id = id;
  const hintEl = hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null;
  const errorEl = h('p', { class: 'field-error', id: `${id}-error`, hidden: true });
  control.setAttribute('aria-describedby', [hintEl && hintEl.id, errorEl.id].filter(Boolean).join(' '));
  const wrap = h('div', { class: ['field', className] }, h('label', { for: id }, label), control, hintEl, errorEl);
  function setError(message) {
    errorEl.textContent = message || '';
    errorEl.hidden = !message;
    if (message) control.setAttribute('aria-invalid', 'true');
    else control.removeAttribute('aria-invalid');
  }
  return { wrap, control, setError };
}

export function select(options, attrs = {}) {
  return h('select', attrs, options.map(([value, text]) => h('option', { value }, text)));
}

// The console's own addresses (hash routes; app.js routes them).
export const HOME = '#/follow-ups';

export function patientHref(patientId) {
  return `#/patients/${encodeURIComponent(patientId)}`;
}

/** A failure's message where the screen's content would be (read out at once). */
export function errorNote(message) {
  return h('p', { class: 'form-error', role: 'alert' }, message);
}

/** `request`'s result; or, when it fails, null, with its message shown in `target` in place of what was there. */
export async function orErrorNote(target, request) {
  try {
    return await request;
  } catch (error) {
    clear(target).append(errorNote(error.message));
    return null;
  }
}

/**
 * "Show more" under a list the API pages, or null when `cursor` says there is no more. A click asks
 * `load(cursor)` for the next page ({items, next_cursor}) and hands its items to `add`, which appends
 * them and returns the first new element; the button stays while the API gives a next cursor. A
 * failure shows in place, above the button, which stays so the reader can try again. `noun`
 * completes the button's name ("Show more contact attempts"), as several lists on one screen page.
 */
export function showMore(cursor, load, add, noun) {
  if (!cursor) return null;
  let next = cursor;
  const note = h('div', { class: 'more-note' });
  const button = h('button', { type: 'button', class: 'secondary', 'aria-label': `Show more ${noun}` }, 'Show more');
  const wrap = h('div', { class: 'show-more' }, note, button);
  button.addEventListener('click', async () => {
    button.disabled = true;
    wrap.setAttribute('aria-busy', 'true');
    clear(note);
    const page = await orErrorNote(note, load(next));
    wrap.removeAttribute('aria-busy');
    button.disabled = false;
    if (!page) return;
    next = page.next_cursor;
    const first = page.items.length ? add(page.items) : null;
    announce(`${page.items.length} more ${noun} shown${next ? '' : ': that is all of them'}.`);
    if (!next) {
      // The button goes; focus goes to what it brought rather than falling back to the page's top.
      wrap.remove();
      if (first) {
        first.tabIndex = -1;
        first.focus();
      }
    }
  });
  return wrap;
}

/** What a screen shows in place of a part whose route this server does not offer. */
export function unavailable(route) {
  return h('p', { class: 'muted' }, `Not available on this server yet (needs ${route}).`);
}

/** True, with the note above appended to `where`, when the server lacks `route`. */
export function lacksRoute(api, route, where) {
  if (api.has(route)) return false;
  where.append(unavailable(route));
  return true;
}

let liveRegion = null;

export function setLiveRegion(el) {
  liveRegion = el;
}

/** A short message for everyone: shown as a toast and read by screen readers. */
export function announce(message, kind = 'info') {
  if (!liveRegion) return;
  clear(liveRegion);
  const toast = h('p', { class: ['toast', kind] }, message);
  liveRegion.append(toast);
  setTimeout(() => toast.remove(), 6000);
}

/** A button's action: the button is disabled while it runs, and a failure is announced. */
export async function act(button, action) {
  button.disabled = true;
  try {
    await action();
  } catch (error) {
    announce(error.message, 'error');
  } finally {
    button.disabled = false;
  }
}

/**
 * A modal form in a <dialog> (focus stays inside, Escape cancels). `spec.build(form)` adds the
 * fields and returns them by API field name; `spec.submit()` runs on submit and may throw an ApiError whose message (and field errors)
 * are shown in the dialog; the dialog closes when it resolves. Resolves to submit's result or null.
 */
export function formDialog(spec) {
  const { title, submitLabel, danger = false } = spec;
  return new Promise((resolve) => {
    const opener = document.activeElement;
    const titleId = uid('dlg');
    const errorBox = h('div', { class: 'form-error', role: 'alert', hidden: true });
    const submitButton = h('button', { type: 'submit', class: danger ? 'danger' : 'primary' }, submitLabel);
    const cancel = h('button', { type: 'button', class: 'secondary' }, 'Cancel');
    const form = h('form', { novalidate: true, class: 'dialog-form' });
    const dialog = h('dialog', { 'aria-labelledby': titleId, class: 'dialog' },
      h('h2', { id: titleId }, title), form);
    const fields = spec.build(form) || {};
    append(form, [errorBox, h('div', { class: 'actions' }, submitButton, cancel)]);
    let result = null;

    function showError(error) {
      errorBox.textContent = error.message || 'Something went wrong.';
      errorBox.hidden = false;
      for (const [name, message] of Object.entries(error.fields || {})) {
        if (fields[name]) fields[name].setError(message);
      }
    }
    cancel.addEventListener('click', () => dialog.close());
    dialog.addEventListener('close', () => {
      dialog.remove();
      if (opener && opener.isConnected) opener.focus();
      resolve(result);
    });
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      errorBox.hidden = true;
      Object.values(fields).forEach((f) => f.setError && f.setError(''));
      submitButton.disabled = true;
      try {
        result = await spec.submit();
        dialog.close();
      } catch (error) {
        showError(error);
      } finally {
        submitButton.disabled = false;
      }
    });
    document.body.append(dialog);
    dialog.showModal();
    const first = form.querySelector('input, select, textarea');
    if (first) first.focus();
  });
}

/** A Blob saved as a file by the browser (no network: an object URL). */
export function download(blob, filename) {
  const url = URL.createObjectURL(blob);
  const link = h('a', { href: url, download: filename, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
