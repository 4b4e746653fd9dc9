"""A statement, a payment or a document that changes makes its structure's alerts recomputed in the background.

The task is enqueued inside the saving transaction: with the database queue it is written (or rolled back) with
the change itself, and the worker reads the committed data.
"""

import contextlib
import contextvars

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from cadre.funding.models import Document, FundingLine, Payment
from cadre.monitoring.models import FinancialStatement

_paused = contextvars.ContextVar("cadre_alerts_paused", default=False)


@contextlib.contextmanager
def paused():
    """No recompute per change, for a bulk writer that computes every status itself once it is done (the demo:
    hundreds of payments and documents, each of which would recompute its structure)."""
    token = _paused.set(True)
    try:
        yield
    finally:
        _paused.reset(token)


def _recompute(structure_id):
    from cadre.monitoring import alert_tasks

    if structure_id is not None and not _paused.get():
        alert_tasks.recompute_structure.enqueue(structure_id)


@receiver([post_save, post_delete], sender=FinancialStatement)
@receiver([post_save, post_delete], sender=Document)
def structure_record_changed(sender, instance, **kwargs):
    _recompute(instance.structure_id)


@receiver([post_save, post_delete], sender=Payment)
def payment_changed(sender, instance, **kwargs):
    structure_id = FundingLine.objects.filter(pk=instance.line_id).values_list("structure_id", flat=True).first()
    _recompute(structure_id)
