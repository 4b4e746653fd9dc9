"""What the framework agreement and meeting pages show, read once and kept until a table it is read from changes
(cadre.core.stamps; tests/test_stamps_funding.py checks the tables against the queries made)."""

import dataclasses

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404

from cadre.agreements.models import (
    Agreement,
    Amendment,
    Attachment,
    Committee,
    CommitteeMember,
    Decision,
    FollowUp,
    FrameworkAgreement,
    Meeting,
    Signatory,
)
from cadre.core.stamps import Stamped, user_key
from cadre.partners.models import Partner
from cadre.structures.models import Structure
from cadre.territories.models import Commune, Department

FRAMEWORK_READS = [
    Agreement,
    Amendment,
    Attachment,
    Commune,
    Department,
    FrameworkAgreement,
    Partner,
    Signatory,
    Structure,
]
_FRAMEWORK = Stamped("framework-page", FRAMEWORK_READS)


@dataclasses.dataclass
class FrameworkPage:
    framework: FrameworkAgreement  # with its département and its previous and next editions
    signatories: list  # [Signatory] signing now
    former: list  # [Signatory] who left by an amendment
    joined: list  # [Partner] signing this edition and not the previous one
    left: list  # [Partner] signing the previous edition and not this one
    amendments: list  # [Amendment] with the partners they bring in and take out
    attachments: list  # [Attachment], without their content
    editions: list  # [FrameworkAgreement], the oldest first
    agreements: list  # [Agreement] under it that the user sees


def framework_page(user, uuid):
    """The framework agreement `uuid` as `user` sees it (Http404 when out of their sight)."""
    return _FRAMEWORK.get((user_key(user), str(uuid)), lambda: _framework_page(user, uuid))


def _framework_page(user, uuid):
    framework = get_object_or_404(
        FrameworkAgreement.objects.visible_to(user).select_related("department", "previous", "next_edition"),
        uuid=uuid,
    )
    read = list(framework.editions_signatories())  # with the previous edition's, for what changed
    signatories = [signatory for signatory in read if signatory.framework_id == framework.pk]
    joined, left = framework.signatory_changes(read)
    return FrameworkPage(
        framework=framework,
        signatories=[s for s in signatories if s.left_on is None],
        former=[s for s in signatories if s.left_on is not None],
        joined=joined,
        left=left,
        amendments=list(framework.amendments.prefetch_related("joined", "left")),
        attachments=list(framework.attachments.defer("content")),
        editions=framework.editions(),
        agreements=list(Agreement.objects.visible_to(user).filter(framework=framework)),
    )


MEETING_READS = [
    Committee,
    CommitteeMember,
    Commune,
    Decision,
    FollowUp,
    FrameworkAgreement,
    Meeting,
    Partner,
    Signatory,
    Structure,
]
_MEETING = Stamped("meeting-page", MEETING_READS)


@dataclasses.dataclass
class MeetingPage:
    meeting: Meeting  # with its committee, its framework and who was present
    members: list  # [CommitteeMember] of the committee, with their partners
    decisions: list  # [Decision] with their follow-ups and their owners


def meeting_page(user, uuid):
    """The meeting `uuid` of a committee `user` sees (Http404 otherwise)."""
    return _MEETING.get((user_key(user), str(uuid)), lambda: _meeting_page(user, uuid))


def _meeting_page(user, uuid):
    meeting = get_object_or_404(
        Meeting.objects.filter(committee__in=Committee.objects.visible_to(user))
        .select_related("committee__framework")
        .prefetch_related("present"),
        uuid=uuid,
    )
    follow_ups = Prefetch("follow_ups", FollowUp.objects.select_related("owner"))
    return MeetingPage(
        meeting=meeting,
        members=list(meeting.committee.members.select_related("partner")),
        decisions=list(meeting.decisions.prefetch_related(follow_ups)),
    )
