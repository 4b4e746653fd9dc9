"""Named rights on funding: who may record a partner's funding, who configures the schemes."""

from cadre.accounts.models import WRITE_ROLES


def _active(user):
    return user.is_authenticated and user.is_active


def can_manage_partner_funding(user, partner):
    """Administrators, and the partner's own staff who may write."""
    return _active(user) and (user.is_administrator or partner.pk in user.partner_ids(WRITE_ROLES))


def can_manage_line(user, line):
    return can_manage_partner_funding(user, line.partner)


def can_see_partner_funding(user, partner):
    """A partner's commitments and payments: its own staff and the administrators."""
    return _active(user) and (user.is_administrator or partner.pk in user.partner_ids())


def can_configure_schemes(user):
    return _active(user) and user.is_administrator


def can_record_funding(user):
    """Who may create a funding line at all: administrators and partner staff who may write."""
    return _active(user) and (user.is_administrator or bool(user.partner_ids(WRITE_ROLES)))
