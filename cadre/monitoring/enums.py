from django.db import models


class StatementStatus(models.TextChoices):
    DRAFT = "draft", "en cours de saisie"
    SUBMITTED = "submitted", "envoyés"
    RETURNED = "returned", "renvoyés à la structure"
    ACCEPTED = "accepted", "acceptés"
