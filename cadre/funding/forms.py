from django import forms

from cadre.accounts.models import WRITE_ROLES
from cadre.core.forms import CadreForm, FastSelect, VersionedModelForm, date_input, french_decimals
from cadre.funding import scdl
from cadre.funding.models import (
    Envelope,
    FundingLine,
    FundingScheme,
    Payment,
    PaymentKind,
    PaymentStep,
    RequiredDocument,
    SchemeYear,
)
from cadre.partners.models import Partner, PartnerKind


class FundingLineForm(VersionedModelForm):
    """A partner's line for one structure; the partner is chosen among those the user may record for."""

    class Meta:
        model = FundingLine
        fields = [
            "partner",
            "scheme",
            "year",
            "eligible_expenses",
            "forecast",
            "voted",
            "decision_reference",
            "decision_date",
        ]
        widgets = {"partner": FastSelect, "scheme": FastSelect, "decision_date": date_input()}
        formfield_callback = french_decimals

    def __init__(self, *args, partners, structure, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.structure = structure
        self.fields["partner"].queryset = partners
        self.fields["scheme"].queryset = FundingScheme.objects.order_by("category", "name")
        if self.instance.pk:  # the funder and the scheme of a line stay; a new line is made for others
            for name in ("partner", "scheme", "year"):
                self.fields[name].disabled = True


class PaymentForm(CadreForm, forms.ModelForm):
    class Meta:
        model = Payment
        fields = ["kind", "amount", "paid_on", "reference"]
        widgets = {"paid_on": date_input()}
        formfield_callback = french_decimals

    def __init__(self, *args, line, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.line = line
        self.fields["kind"].choices = PaymentKind.choices


class SchemeYearForm(CadreForm, forms.ModelForm):
    class Meta:
        model = SchemeYear
        fields = ["year", "rate", "ceiling"]
        formfield_callback = french_decimals

    def __init__(self, *args, scheme, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.scheme = scheme

    def clean(self):
        cleaned = super().clean()
        if self.instance.scheme.is_computed and cleaned.get("rate") is None:
            self.add_error("rate", "Une prestation de service se calcule avec un taux : saisissez-le.")
        return cleaned


def partners_for(user):
    """The partners a user may record funding for."""
    if user.is_administrator:
        return Partner.objects.exclude(kind=PartnerKind.FEDERATION).order_by("name")
    return Partner.objects.filter(pk__in=sorted(user.partner_ids(WRITE_ROLES))).order_by("name")


class DepositForm(CadreForm):
    """A file for one of the documents the structure owes (chosen among them)."""

    owed = forms.ChoiceField(label="Pièce")
    file = forms.FileField(
        label="Fichier",
        help_text="PDF, ODT, ODS, DOCX, XLSX, PNG ou JPEG ; 10 Mo au plus.",
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.odt,.ods,.docx,.xlsx,.png,.jpg,.jpeg"}),
    )

    def __init__(self, *args, owed, **kwargs):
        super().__init__(*args, **kwargs)
        self.owed = {f"{item.required.pk}-{item.year}": item for item in owed}
        self.fields["owed"].choices = [
            (
                key,
                f"{item.required} {item.year} (échéance le {item.due:%d/%m/%Y} ; pour {len(item.sources)} demandeurs)",
            )
            if len(item.sources) > 1
            else (key, f"{item.required} {item.year} (échéance le {item.due:%d/%m/%Y})")
            for key, item in self.owed.items()
        ]
        if self.owed:
            self.initial.setdefault("owed", next(iter(self.owed)))

    def clean_file(self):
        from cadre.core.uploads import check_upload

        upload = self.cleaned_data["file"]
        check_upload(upload)  # raises the French message shown at the field
        upload.seek(0)
        return upload


class ReviewForm(CadreForm):
    decision = forms.ChoiceField(label="Décision", choices=[("accept", "Accepter"), ("reject", "Refuser")])
    reason = forms.CharField(
        label="Motif du refus",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="lu par la structure",
    )


class EnvelopeForm(VersionedModelForm):
    class Meta:
        model = Envelope
        fields = ["partner", "scheme", "year", "amount", "key", "floor", "cap"]
        widgets = {"partner": FastSelect, "scheme": FastSelect}
        formfield_callback = french_decimals

    def __init__(self, *args, partners, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["partner"].queryset = partners
        self.fields["scheme"].queryset = FundingScheme.objects.exclude(rule="caf_service").order_by("category", "name")
        self.fields["scheme"].help_text = "les prestations de service se calculent par structure : pas d'enveloppe"


class CommitForm(CadreForm):
    decision_reference = forms.CharField(
        label="Référence de la décision", required=False, max_length=100, help_text="vide : montants prévisionnels"
    )
    decision_date = forms.DateField(label="Date de la décision", required=False, widget=date_input())

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("decision_reference") and not cleaned.get("decision_date"):
            self.add_error("decision_date", "Une décision a une date.")
        return cleaned


class SubsidyFileForm(CadreForm):
    file = forms.FileField(
        label="Fichier SCDL « subventions » (CSV)",
        help_text=(
            "Toutes les versions du schéma ; séparateur point-virgule ou virgule, UTF-8 ou Windows-1252 ; "
            f"{scdl.MAX_FILE_SIZE // (1024 * 1024)} Mo au plus. Un gros fichier est vérifié en arrière-plan."
        ),
    )
    scheme = forms.ModelChoiceField(
        label="Dispositif des lignes importées",
        queryset=FundingScheme.objects.exclude(rule="caf_service").order_by("category", "name"),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith((".csv", ".txt")):
            raise forms.ValidationError("Déposez le fichier au format CSV (.csv) : enregistrez le classeur en CSV.")
        if upload.size > scdl.MAX_FILE_SIZE:
            size = f"{upload.size / (1024 * 1024):.1f}".replace(".", ",")
            raise forms.ValidationError(
                f"Ce fichier pèse {size} Mo : {scdl.MAX_FILE_SIZE // (1024 * 1024)} Mo au plus. "
                "Découpez-le (par année, par exemple)."
            )
        return upload


class RequiredDocumentForm(CadreForm, forms.ModelForm):
    class Meta:
        model = RequiredDocument
        fields = ["kind", "label", "due_month", "due_day", "following_year", "blocks_balance"]

    def __init__(self, *args, scheme, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.scheme = scheme


class PaymentStepForm(CadreForm, forms.ModelForm):
    class Meta:
        model = PaymentStep
        fields = ["kind", "share", "due_month", "due_day", "following_year"]
        formfield_callback = french_decimals

    def __init__(self, *args, scheme, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.scheme = scheme
