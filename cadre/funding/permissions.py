"""Named rights on funding: who may record a partner's funding, who configures the schemes."""

from django.db.models import Q

from cadre.accounts.models import WRITE_ROLES
from cadre.agreements.models import Signatory


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
    return document.pk in reviewable_documents(user, [document])


def reviewable_documents(user, documents):
    """The pks of `documents` (with their requirement) that `user` may review (`can_review` of each), in three
    queries whatever their number: a structure's page lists several deposits awaiting review."""
    from cadre.funding.models import FundingLine, RequiredDocument

    documents = list(documents)
    if not documents or not _active(user):
        return set()
    if user.is_administrator:
        return {document.pk for document in documents}
    partners = sorted(user.partner_ids(WRITE_ROLES))
    if not partners:
        return set()
    structures = sorted({document.structure_id for document in documents})
    # The schemes under which the user's partners fund these structures, by structure and year…
    funded = {}
    for structure_id, year, scheme_id in (
        FundingLine.objects.filter(
            structure_id__in=structures, year__in={document.year for document in documents}, partner_id__in=partners
        )
        .order_by()
        .values_list("structure_id", "year", "scheme_id")
    ):
        funded.setdefault((structure_id, year), set()).add(scheme_id)
    # …and the agreements they are party to with them, with their years.
    signed = {}
    for structure_id, agreement_id, starts, ends in (
        Signatory.objects.filter(structure_id__in=structures, agreement__parties__partner_id__in=partners)
        .order_by()
        .values_list("structure_id", "agreement_id", "agreement__starts", "agreement__ends")
    ):
        signed.setdefault(structure_id, {})[agreement_id] = range(starts.year, ends.year + 1)
    # The requirements of those schemes and agreements that one of the documents answers (by its share key).
    shares = {document.required.share_key for document in documents}
    requireds = RequiredDocument.objects.filter(
        Q(scheme_id__in={scheme for schemes in funded.values() for scheme in schemes})
        | Q(agreement_id__in={agreement for agreements in signed.values() for agreement in agreements}),
        Q(kind__in=[share for share in shares if not share.startswith("pk-")])
        | Q(pk__in=[int(share[3:]) for share in shares if share.startswith("pk-")]),
    ).only("pk", "kind", "scheme_id", "agreement_id")
    answering = {}
    for required in requireds:
        answering.setdefault(required.share_key, []).append(required)
    reviewable = set()
    for document in documents:
        schemes = funded.get((document.structure_id, document.year), set())
        agreements = signed.get(document.structure_id, {})
        if any(
            required.scheme_id in schemes or document.year in agreements.get(required.agreement_id, ())
            for required in answering.get(document.required.share_key, [])
        ):
            reviewable.add(document.pk)
    return reviewable
