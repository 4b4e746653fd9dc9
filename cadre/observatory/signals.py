"""What the observatory tells the apps that read its validated answers (indicators), without
knowing them: app dependencies stay one-way."""

from django.dispatch import Signal

# Sent inside the transaction that validates or reopens a submission (kwargs: submission).
# A receiver that enqueues a task in the database queue is thus atomic with the step.
validated_answers_changed = Signal()
