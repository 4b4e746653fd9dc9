"""The indicators follow the observatory: a validated or reopened submission refreshes the values
of its structure's territories for its year, in the background."""

from django.dispatch import receiver

from cadre.observatory.signals import validated_answers_changed


@receiver(validated_answers_changed)
def refresh_after_review(sender, submission, **kwargs):
    from cadre.indicators import tasks

    tasks.refresh_structure.enqueue(submission.structure_id, submission.campaign.year)
