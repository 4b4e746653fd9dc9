"""Named action rights on partners."""

from cadre.accounts.models import Role


def can_create_partner(user):
    return user.is_authenticated and user.is_administrator


def can_edit_partner(user, partner):
    """Administrators, and the partner's own managers."""
    if not (user.is_authenticated and user.is_active):
        return False
    return user.is_administrator or partner.pk in user.partner_ids({Role.MANAGER})
