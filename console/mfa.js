// Two-step sign-in (TOTP), from the user's menu: Cognito gives a secret, shown as text and as a
// QR code drawn here (qrcodegen.js, vendored: nothing is fetched); a first code from the app
// proves it is set up, then the app becomes the user's second step at every sign-in.

import { announce, field, formDialog, h, svg } from './dom.js';
import qrcodegen from './qrcodegen.js';

const ISSUER = 'Clinic Follow-ups';

/** otpauth:// as authenticator apps read it (Google's Key Uri Format). */
export function otpauthUri(email, secret) {
  const label = encodeURIComponent(`${ISSUER}:${email}`);
  return `otpauth://totp/${label}?secret=${encodeURIComponent(secret)}&issuer=${encodeURIComponent(ISSUER)}`;
}

/** The QR code of `text` as an SVG element (dark modules as one path; a 4-module quiet zone). */
export function qrSvg(text, label) {
  const qr = qrcodegen.QrCode.encodeText(text, qrcodegen.QrCode.Ecc.MEDIUM);
  const border = 4;
  const size = qr.size + border * 2;
  let d = '';
  for (let y = 0; y < qr.size; y += 1) {
    for (let x = 0; x < qr.size; x += 1) {
      if (qr.getModule(x, y)) d += `M${x + border},${y + border}h1v1h-1z`;
    }
  }
  return svg('svg', { viewBox: `0 0 ${size} ${size}`, width: 200, height: 200, role: 'img', 'aria-label': label,
    class: 'qr', 'shape-rendering': 'crispEdges' },
  svg('rect', { width: size, height: size, fill: '#fff' }), svg('path', { d, fill: '#000' }));
}

export async function enrolMfa(ctx) {
  let secret;
  try {
    secret = await ctx.session.associateSoftwareToken();
  } catch (error) {
    announce(error.message, 'error');
    return false;
  }
  const done = await formDialog({
    title: 'Set up two-step sign-in',
    submitLabel: 'Turn on',
    build(form) {
      const code = field('Code from the app', h('input', {
        type: 'text', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: '10',
      }), { hint: 'The six digits the app shows now.' });
      form.append(
        h('p', {}, 'Scan this code with an authenticator app, or type the secret into it by hand.'),
        h('div', { class: 'qr-wrap' }, qrSvg(otpauthUri(ctx.me.email, secret), 'QR code of the secret')),
        h('p', {}, 'Secret: ', h('code', { class: 'secret', 'data-secret': secret }, secret.replace(/(.{4})/g, '$1 ').trim())),
        code.wrap);
      this.code = code;
      return { code };
    },
    async submit() {
      const value = this.code.control.value.replace(/\s+/g, '');
      if (!/^\d{6}$/.test(value)) throw new Error('Enter the six digits the app shows.');
      await ctx.session.enableSoftwareToken(value);
      return true;
    },
  });
  if (done) announce('Two-step sign-in is on: you will be asked for a code from the app when you sign in.');
  return Boolean(done);
}
