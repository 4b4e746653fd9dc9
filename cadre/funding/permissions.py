"""Named rights on funding: who may record a partner's funding, who configures the schemes."""

from cadre.accounts.models import WRITE_ROLES
from cadre.agreements.models import Agreement


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
    """Administrators; the writers of a partner that funds the structure that year under a scheme
    requiring the document, or that is party to an agreement requiring it (a document of one kind
    answers every scheme and agreement asking for that kind, so each of their partners may review it)."""
    from cadre.funding.models import FundingLine, RequiredDocument

    if not _active(user):
        return False
    if user.is_administrator:
        return True
    partners = sorted(user.partner_ids(WRITE_ROLES))
    if not partners:
        return False
    required = document.required
    answered = RequiredDocument.objects.all()
    answered = (
        answered.filter(pk=required.pk) if required.share_key.startswith("pk-") else answered.filter(kind=required.kind)
    )
    if FundingLine.objects.filter(
        structure_id=document.structure_id,
        year=document.year,
        scheme_id__in=answered.filter(scheme__isnull=False).values("scheme_id"),
        partner_id__in=partners,
    ).exists():
        return True
    agreements = answered.filter(agreement__isnull=False).values("agreement_id")
    return (
        Agreement.objects.filter(
            pk__in=agreements,
            parties__structure_id=document.structure_id,
            starts__year__lte=document.year,
            ends__year__gte=document.year,
        )
        .filter(parties__partner_id__in=partners)
        .exists()
    )
