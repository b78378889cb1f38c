// Signing in, step by step: email and password; then what Cognito asks for next (a new password
// on the first sign-in, with the pool's rules shown and checked before anything is sent; the
// authenticator app's code once two-step sign-in is on); and "Forgot password?" (a code by
// email, then a new password).

import { passwordRules } from './auth.js';
import { clear, field, h } from './dom.js';

/**
 * Shows the sign-in screen in `main`; calls `onSignedIn()` once the session holds tokens.
 * `reason`: why the user is here (a session that ended), shown above the form.
 */
export function renderSignIn(main, session, reason, onSignedIn) {
  document.title = 'Sign in · Clinic Follow-ups';
  const rules = passwordRules(session.config.password_policy);

  function screen(title, subtitle, parts, button, submit) {
    const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
    const form = h('form', { class: 'signin panel', novalidate: true }, h('h1', {}, title),
      subtitle ? h('p', { class: 'muted' }, subtitle) : null, ...parts, error, button);
    const idle = button.textContent;
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      error.hidden = true;
      button.disabled = true;
      try {
        await submit();
      } catch (e) {
        error.textContent = e.message;
        error.hidden = false;
      } finally {
        button.disabled = false;
        button.textContent = idle;
      }
    });
    clear(main).append(h('div', { class: 'signin-wrap' }, form));
    const first = form.querySelector('input');
    if (first) first.focus();
    return { form, error };
  }

  async function next(challenge) {
    if (!challenge) {
      await onSignedIn();
    } else if (challenge.name === 'NEW_PASSWORD_REQUIRED') {
      choosePassword(challenge);
    } else {
      askCode(challenge);
    }
  }

  function signIn(message, prefill = '') {
    const email = field('Email', h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true,
      value: prefill }));
    const password = field('Password', h('input', {
      type: 'password', name: 'password', autocomplete: 'current-password', required: true,
    }));
    const forgot = h('button', { type: 'button', class: 'link' }, 'Forgot password?');
    forgot.addEventListener('click', () => requestCode(email.control.value));
    const { error } = screen('Sign in', 'Clinic Follow-ups: billing staff console',
      [email.wrap, password.wrap, h('p', {}, forgot)],
      h('button', { type: 'submit', class: 'primary wide' }, 'Sign in'), async () => {
        if (!email.control.value.trim() || !password.control.value) throw new Error('Enter your email and password.');
        await next(await session.signIn(email.control.value, password.control.value));
      });
    if (message) {
      error.textContent = message;
      error.hidden = false;
    }
  }

  /** The new password, with the pool's rules ticked off as they are met; refused here if not. */
  function newPasswordFields(labelText = 'New password') {
    const password = field(labelText, h('input', { type: 'password', autocomplete: 'new-password', required: true }));
    const again = field('Confirm new password', h('input', { type: 'password', autocomplete: 'new-password', required: true }));
    const items = rules.map(([text]) => h('li', { class: 'rule' }, text));
    const list = h('ul', { class: 'password-rules', 'aria-label': 'Password rules' }, items);
    const update = () => rules.forEach(([, test], i) => {
      const met = test(password.control.value);
      items[i].classList.toggle('met', met);
      items[i].setAttribute('aria-label', `${rules[i][0]}: ${met ? 'met' : 'not met'}`);
    });
    password.control.addEventListener('input', update);
    update();
    function check() {
      const missing = rules.filter(([, test]) => !test(password.control.value)).map(([text]) => text.toLowerCase());
      if (missing.length) throw new Error(`The password needs: ${missing.join(', ')}.`);
      if (password.control.value !== again.control.value) throw new Error('The two passwords are not the same.');
      return password.control.value;
    }
    return { parts: [password.wrap, list, again.wrap], check };
  }

  function choosePassword(challenge) {
    const fields = newPasswordFields();
    screen('Choose your password', 'This is your first sign-in: replace the temporary password with your own.',
      fields.parts, h('button', { type: 'submit', class: 'primary wide' }, 'Set password'), async () => {
        const password = fields.check();
        await next(await session.newPassword(challenge, password));
      });
  }

  function askCode(challenge) {
    const code = field('Authentication code', h('input', {
      type: 'text', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: '10', required: true,
    }), { hint: 'The six digits your authenticator app shows for Clinic Follow-ups.' });
    screen('Two-step sign-in', null, [code.wrap], h('button', { type: 'submit', class: 'primary wide' }, 'Verify'),
      async () => {
        if (!/^\d{6}$/.test(code.control.value.replace(/\s+/g, ''))) throw new Error('Enter the six digits.');
        await next(await session.mfaCode(challenge, code.control.value));
      });
  }

  function requestCode(prefill) {
    const email = field('Email', h('input', { type: 'email', autocomplete: 'username', required: true, value: prefill || '' }));
    const back = h('button', { type: 'button', class: 'link' }, 'Back to sign in');
    back.addEventListener('click', () => signIn(null, email.control.value));
    screen('Reset your password', 'We will email you a code to choose a new password with.', [email.wrap, h('p', {}, back)],
      h('button', { type: 'submit', class: 'primary wide' }, 'Send code'), async () => {
        if (!email.control.value.trim()) throw new Error('Enter your email.');
        await session.forgotPassword(email.control.value);
        resetPassword(email.control.value);
      });
  }

  function resetPassword(email) {
    const code = field('Code', h('input', { type: 'text', inputmode: 'numeric', autocomplete: 'one-time-code', required: true }),
      { hint: `The code we emailed to ${email}.` });
    const fields = newPasswordFields();
    screen('Choose a new password', null, [code.wrap, ...fields.parts],
      h('button', { type: 'submit', class: 'primary wide' }, 'Reset password'), async () => {
        if (!code.control.value.trim()) throw new Error('Enter the code from the email.');
        const password = fields.check();
        await session.confirmForgotPassword(email, code.control.value, password);
        signIn('Your password is changed. Sign in with it.', email);
      });
  }

  signIn(reason);
}
