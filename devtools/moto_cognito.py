"""The embedded Cognito delivers what the real one would send, to the local stack's outbox.

moto 5.2.5 (WRITTEN_FOR_MOTO) sends no mail and, for `AdminCreateUser` without a
`TemporaryPassword`, gives the user no password at all (so an invited user could never sign in);
its `ForgotPassword` code comes back in a response header and `ConfirmForgotPassword` accepts any
code that does not start with moto's own prefix. Installed by the local stack only:

- `AdminCreateUser` (unless `MessageAction=SUPPRESS`) without a temporary password: one is made
  that meets the pool's policy, and the invitation is written to the outbox with the pool's own
  invitation template (`AdminCreateUserConfig.InviteMessageTemplate`, as the deployed pool's);
- `ForgotPassword`: a six-digit code, written to the outbox; `ConfirmForgotPassword` checks it
  (a wrong code is `CodeMismatchException`) and the new password against the pool's policy.

- TOTP: with `MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP=true` (set by devstack) moto checks every
  code for real, against the one secret it hands every user (`AssociateSoftwareToken`). Its
  built-in secret decodes to 60 bits, which authenticator apps (and pyotp) refuse; a random
  160-bit one is put in its place for each run of the stack. Every user of a local stack shares
  it (the real pool gives each their own): fine for a development emulator, said here so nobody
  mistakes it for the real thing.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from chalicelib import outbox

WRITTEN_FOR_MOTO = "5.2.5"  # moto/cognitoidp/models.py CognitoIdpBackend
DEFAULT_SUBJECT = "Your Clinic Follow-ups account"
DEFAULT_MESSAGE = "Your username is {username} and your temporary password is {####}."
_installed: dict[str, object] = {}


def temporary_password() -> str:
    """What Cognito generates: long, with every character class a pool may ask for."""
    return f"Tmp-{secrets.token_hex(6)}-Aa9!"


def _email(user) -> str:
    return next((a["Value"] for a in user.attributes if a["Name"] == "email"), user.username)


def install(outbox_file: Callable[[], str]) -> None:
    """Patch moto's Cognito backend (once per process); `outbox_file()` names the file each time."""
    import base64

    from moto.cognitoidp import models
    from moto.cognitoidp.exceptions import CodeMismatchException
    from moto.cognitoidp.models import CognitoIdpBackend

    _installed["outbox_file"] = outbox_file
    if "done" in _installed:
        return
    _installed["done"] = True
    models.COGNITO_TOTP_MFA_SECRET = base64.b32encode(secrets.token_bytes(20)).decode()
    create_user, forgot, confirm = (CognitoIdpBackend.admin_create_user, CognitoIdpBackend.forgot_password,
                                    CognitoIdpBackend.confirm_forgot_password)

    def admin_create_user(self, user_pool_id, username, message_action, temporary_password_, attributes):
        invite = message_action != "SUPPRESS" and not temporary_password_
        password = temporary_password() if invite else temporary_password_
        user = create_user(self, user_pool_id, username, message_action, password, attributes)
        if invite:
            config = self.describe_user_pool(user_pool_id).extended_config.get("AdminCreateUserConfig", {})
            template = config.get("InviteMessageTemplate", {})
            body = (template.get("EmailMessage") or DEFAULT_MESSAGE).replace("{username}", _email(user))
            outbox.append(_installed["outbox_file"](), channel="email", to=_email(user), kind="invitation",
                          subject=template.get("EmailSubject") or DEFAULT_SUBJECT,
                          body=body.replace("{####}", password))
        return user

    def forgot_password(self, client_id, username):
        _, details = forgot(self, client_id, username)
        user = _user(self, client_id, username)
        if user is None:
            return None, details
        code = f"{secrets.randbelow(1_000_000):06d}"
        user.confirmation_code = code
        outbox.append(_installed["outbox_file"](), channel="email", to=_email(user), kind="password_reset",
                      subject="Your Clinic Follow-ups password reset code",
                      body=f"Your password reset code is {code}. If you did not ask for it, ignore this message.")
        return None, details  # no code in a response header: it is in the outbox, as in an inbox

    def confirm_forgot_password(self, client_id, username, password, confirmation_code):
        user = _user(self, client_id, username)
        if user is not None:
            if not user.confirmation_code or user.confirmation_code != confirmation_code:
                raise CodeMismatchException("Invalid verification code provided, please try again.")
            self._validate_password(user.user_pool_id, password)
        return confirm(self, client_id, username, password, confirmation_code)

    CognitoIdpBackend.admin_create_user = admin_create_user
    CognitoIdpBackend.forgot_password = forgot_password
    CognitoIdpBackend.confirm_forgot_password = confirm_forgot_password


def _user(backend, client_id: str, username: str):
    for pool in backend.user_pools.values():
        if client_id in pool.clients:
            return pool._get_user(username)
    return None
