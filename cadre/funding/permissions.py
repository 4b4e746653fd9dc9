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


def can_deposit(user, structure):
    """The structure's own staff who may write, and the administrators."""
    return _active(user) and (user.is_administrator or structure.pk in user.structure_ids(WRITE_ROLES))


def can_review(user, document):
    """Administrators; the writers of a partner that funds the structure that year under the scheme
    requiring the document, or that is party to the agreement requiring it."""
    from cadre.funding.models import FundingLine

    if not _active(user):
        return False
    if user.is_administrator:
        return True
    partners = sorted(user.partner_ids(WRITE_ROLES))
    required = document.required
    if required.scheme_id:
        return FundingLine.objects.filter(
            structure_id=document.structure_id,
            year=document.year,
            scheme_id=required.scheme_id,
            partner_id__in=partners,
        ).exists()
    return required.agreement.parties.filter(partner_id__in=partners).exists()
