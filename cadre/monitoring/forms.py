from django import forms

from cadre.core.forms import CadreForm, FieldsetsMixin, VersionedModelForm, date_input, french_decimals
from cadre.funding.models import Document, DocumentKind
from cadre.monitoring import models as statements
from cadre.monitoring.models import ZERO

# Each amount adds to the live totals the page shows under its group (cadre.js, data-sums).
SUMS = {
    **dict.fromkeys(statements.OPERATING_INCOME_FIELDS, "operating_income income"),
    **dict.fromkeys(statements.OTHER_INCOME_FIELDS, "income"),
    **dict.fromkeys(statements.OPERATING_EXPENSE_FIELDS, "operating_expenses expenses"),
    **dict.fromkeys(statements.OTHER_EXPENSE_FIELDS, "expenses"),
    **dict.fromkeys(statements.ASSET_FIELDS, "assets"),
    **dict.fromkeys(statements.LIABILITY_FIELDS, "liabilities"),
}

FIELDSETS = [
    ("Exercice", ["starts_on", "ends_on"]),
    ("Subventions d'exploitation", statements.SUBSIDY_FIELDS),
    ("Autres produits", ["users_contributions", "other_income", *statements.OTHER_INCOME_FIELDS]),
    ("Charges", [*statements.OPERATING_EXPENSE_FIELDS, *statements.OTHER_EXPENSE_FIELDS]),
    ("Résultats", ["operating_result", "net_result"]),
    ("Bilan : actif", ["fixed_assets", "receivables", "subsidies_receivable", "cash"]),
    ("Bilan : passif", statements.LIABILITY_FIELDS),
    ("Pièce et commentaire", ["accounts_document", "comment"]),
]

AMOUNTS = [name for _, names in FIELDSETS[1:-1] for name in names]


class FinancialStatementForm(FieldsetsMixin, VersionedModelForm):
    fieldsets = FIELDSETS
    every_field_optional = True  # the page says that lines the accounts lack are left empty

    class Meta:
        model = statements.FinancialStatement
        fields = [name for _, names in FIELDSETS for name in names]
        widgets = {"starts_on": date_input(), "ends_on": date_input(), "comment": forms.Textarea(attrs={"rows": 3})}
        formfield_callback = french_decimals

    def __init__(self, *args, structure, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.structure = structure
        self.fields["accounts_document"].queryset = Document.objects.filter(
            structure=structure, required__kind=DocumentKind.ANNUAL_ACCOUNTS
        ).defer("content")  # the files themselves are not offered
        self.fields["accounts_document"].label_from_instance = lambda d: f"{d.year} : {d.file_name}"
        for name in AMOUNTS:
            self.fields[name].required = False  # a line the accounts do not have is left empty
            self.fields[name].widget.attrs.update({"data-sums": SUMS.get(name, ""), "inputmode": "decimal"})

    def clean(self):
        data = super().clean()
        for name in AMOUNTS:
            if data.get(name) is None and name not in self.errors:
                data[name] = ZERO
        ends_on = data.get("ends_on")
        others = statements.FinancialStatement.objects.filter(structure=self.instance.structure)
        if ends_on and others.filter(year=ends_on.year).exclude(pk=self.instance.pk).exists():
            self.add_error("ends_on", f"Cette structure a déjà des comptes pour l'exercice {ends_on.year}.")
        return data


class ReviewForm(CadreForm):
    decision = forms.ChoiceField(
        label="Décision",
        choices=[("accept", "Accepter les comptes"), ("return", "Renvoyer à la structure")],
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label="Motif du renvoi",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Obligatoire pour un renvoi : la structure le lit avec ses comptes.",
    )

    def clean(self):
        data = super().clean()
        if data.get("decision") == "return" and not data.get("comment", "").strip():
            self.add_error("comment", "Dites à la structure ce qu'il faut corriger.")
        return data
