"""Helpers for tests that sign in with a second factor: an authenticator for an account, and its codes."""

import time

from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice


def authenticator(user):
    """A confirmed authenticator for `user` (made if missing), as after enrolment."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    return device or TOTPDevice.objects.create(user=user, name="Téléphone de test", confirmed=True)


def code(device, steps=0):
    """The code `device` shows now, or `steps` time steps (30 s) later: a code is accepted once, and so is
    no earlier one (django-otp keeps the last step used), so a second sign-in in the same test uses steps=1."""
    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps * device.step
    return f"{totp.token():0{device.digits}d}"


def unused_code(device):
    """A code `device` would show that was not used yet: this step's, else the next one's (accepted within the
    tolerance), else — a third sign-in within 30 seconds — the next step's once it has come."""
    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    ahead = device.last_t - totp.t() + 1
    if ahead > 1:
        time.sleep(device.step - (time.time() - device.t0) % device.step + 0.1)
        return unused_code(device)
    return code(device, steps=max(ahead, 0))
