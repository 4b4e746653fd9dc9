"""Indicator values lose their surrogate id: the primary key is (indicator, year, level, territory),
the former unique constraint. Django does not migrate a table to a composite primary key, so the
values move to a new table, copied as they are (derived data, but pages read them meanwhile)."""

import django.db.models.deletion
from django.db import migrations, models

COLUMNS = (
    "indicator_id, year, level, territory, value, numerator, denominator, first_quartile, third_quartile, "
    "structure_count, reason, computed_at"
)


def copy(source, target):
    def run(apps, schema_editor):
        quote = schema_editor.connection.ops.quote_name
        origin, destination = (quote(apps.get_model("indicators", name)._meta.db_table) for name in (source, target))
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO {destination} ({COLUMNS}) SELECT {COLUMNS} FROM {origin}")

    return run


def name_primary_key(apps, schema_editor):
    """PostgreSQL named the new key after the former table's, which held the name then: give it back."""
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    table = apps.get_model("indicators", "IndicatorValue")._meta.db_table
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
        found = next(name for name, details in constraints.items() if details["primary_key"])
        if found != f"{table}_pkey":
            quote = connection.ops.quote_name
            cursor.execute(f"ALTER TABLE {quote(table)} RENAME CONSTRAINT {quote(found)} TO {quote(table + '_pkey')}")


class Migration(migrations.Migration):
    dependencies = [
        ("indicators", "0004_values_national_index"),
    ]

    operations = [
        # The names of the constraint and the index are the new table's.
        migrations.RemoveConstraint(model_name="indicatorvalue", name="indicator_value_unique"),
        migrations.RemoveIndex(model_name="indicatorvalue", name="indicator_value_national"),
        migrations.AlterField(
            model_name="indicatorvalue",
            name="indicator",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="indicators.indicator",
            ),
        ),
        migrations.RenameModel(old_name="IndicatorValue", new_name="FormerIndicatorValue"),
        migrations.CreateModel(
            name="IndicatorValue",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "indicator",
                        "year",
                        "level",
                        "territory",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                (
                    "indicator",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="values",
                        to="indicators.indicator",
                    ),
                ),
                ("year", models.PositiveIntegerField(verbose_name="année")),
                (
                    "level",
                    models.CharField(
                        choices=[
                            ("national", "France"),
                            ("region", "Région"),
                            ("department", "Département"),
                            ("epci", "EPCI"),
                            ("commune", "Commune"),
                        ],
                        max_length=12,
                        verbose_name="échelon",
                    ),
                ),
                ("territory", models.CharField(blank=True, max_length=12, verbose_name="code du territoire")),
                (
                    "value",
                    models.DecimalField(blank=True, decimal_places=6, max_digits=20, null=True, verbose_name="valeur"),
                ),
                (
                    "numerator",
                    models.DecimalField(
                        blank=True, decimal_places=6, max_digits=20, null=True, verbose_name="numérateur"
                    ),
                ),
                (
                    "denominator",
                    models.DecimalField(
                        blank=True, decimal_places=6, max_digits=20, null=True, verbose_name="dénominateur"
                    ),
                ),
                (
                    "first_quartile",
                    models.DecimalField(
                        blank=True, decimal_places=6, max_digits=20, null=True, verbose_name="premier quartile"
                    ),
                ),
                (
                    "third_quartile",
                    models.DecimalField(
                        blank=True, decimal_places=6, max_digits=20, null=True, verbose_name="troisième quartile"
                    ),
                ),
                ("structure_count", models.PositiveIntegerField(default=0, verbose_name="structures")),
                ("reason", models.CharField(blank=True, max_length=300, verbose_name="non calculable parce que")),
                ("computed_at", models.DateTimeField(auto_now=True, verbose_name="calculée le")),
            ],
            options={
                "verbose_name": "valeur d'indicateur",
                "verbose_name_plural": "valeurs d'indicateurs",
                "indexes": [
                    models.Index(
                        condition=models.Q(("level", "national")), fields=["year"], name="indicator_value_national"
                    )
                ],
            },
        ),
        migrations.RunPython(
            copy("FormerIndicatorValue", "IndicatorValue"),
            copy("IndicatorValue", "FormerIndicatorValue"),
            elidable=True,
        ),
        migrations.DeleteModel(name="FormerIndicatorValue"),
        migrations.RunPython(name_primary_key, migrations.RunPython.noop, elidable=True),
    ]
