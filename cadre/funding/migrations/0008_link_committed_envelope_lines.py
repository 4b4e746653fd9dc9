"""Envelopes committed before lines knew their envelope: link each share's line (same funder, scheme,
year and structure, not yet linked) and take the decision their lines share."""

from django.db import migrations


def link_lines(apps, schema_editor):
    Envelope = apps.get_model("funding", "Envelope")
    FundingLine = apps.get_model("funding", "FundingLine")
    for envelope in Envelope.objects.filter(status="committed", lines__isnull=True):
        structures = [
            share.structure_id
            for share in envelope.shares.all()
            if (share.adjusted if share.adjusted is not None else share.simulated) > 0
        ]
        lines = FundingLine.objects.filter(
            envelope__isnull=True,
            partner_id=envelope.partner_id,
            scheme_id=envelope.scheme_id,
            year=envelope.year,
            structure_id__in=structures,
        )
        decisions = set(lines.values_list("decision_reference", "decision_date"))
        lines.update(envelope=envelope)
        if len(decisions) == 1 and not envelope.decision_reference:
            envelope.decision_reference, envelope.decision_date = decisions.pop()
            envelope.save(update_fields=["decision_reference", "decision_date"])


class Migration(migrations.Migration):
    dependencies = [
        ("funding", "0007_envelope_decision_and_lines"),
    ]

    operations = [migrations.RunPython(link_lines, migrations.RunPython.noop)]
