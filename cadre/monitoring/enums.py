from django.db import models


class StatementStatus(models.TextChoices):
    DRAFT = "draft", "en cours de saisie"
    SUBMITTED = "submitted", "envoyés"
    RETURNED = "returned", "renvoyés à la structure"
    ACCEPTED = "accepted", "acceptés"


STATUS_BADGES = {
    StatementStatus.DRAFT: "fr-badge--info",
    StatementStatus.SUBMITTED: "fr-badge--new",
    StatementStatus.RETURNED: "fr-badge--warning",
    StatementStatus.ACCEPTED: "fr-badge--success",
}
