"""Rows of the role × URL matrix (tests/test_access.py) for teams and invitations (tests/test_invitations.py).

In the cast, each structure account is an editor of its structure and the Caf advisors editors of their Caf: they
see their team, only a manager or an administrator changes it."""

from django.urls import reverse

from tests.test_access import LOGIN, SIGNED_IN, row

ROWS = {
    "structures:members": (
        "get",
        lambda o: reverse("structures:members", args=[o["a"].uuid]),
        row(LOGIN, 200, 404, 403, 404, 403, 403, 200),
    ),
    "partners:members": (
        "get",
        lambda o: reverse("partners:members", args=[o["caf69"].uuid]),
        row(LOGIN, 403, 403, 200, 403, 403, 403, 200),
    ),
    # An unknown or replaced link: the same answer for everybody.
    "accounts:invitation": ("get", lambda o: reverse("accounts:invitation", args=["inconnu"]), row(*[404] * 8)),
    "accounts:welcome": ("get", lambda o: reverse("accounts:welcome"), SIGNED_IN),
}
