from django import forms

from cadre.agreements.models import (
    Agreement,
    AgreementStatus,
    AttachmentKind,
    Committee,
    CommitteeMember,
    Event,
    FrameworkAgreement,
    ItemStatus,
    Meeting,
    RoadmapItem,
    Signatory,
)
from cadre.core.forms import (
    CadreForm,
    FastSelect,
    FastSelectMultiple,
    FrenchDecimalField,
    VersionedModelForm,
    date_input,
)
from cadre.core.stamps import Stamped, user_key
from cadre.partners.models import Partner
from cadre.structures.models import Structure
from cadre.territories.forms import CommuneField
from cadre.territories.models import Commune


class AmendmentForm(CadreForm):
    """An avenant and what it changes; actions.amend checks it against the agreement and applies it."""

    signed_on = forms.DateField(label="Signé le", widget=date_input())
    purpose = forms.CharField(label="Objet", max_length=250)
    new_end = forms.DateField(
        label="Nouvelle fin", required=False, widget=date_input(), help_text="si l'avenant prolonge la période"
    )
    joined = forms.ModelMultipleChoiceField(
        label="Signataires qui entrent",
        queryset=Partner.objects.order_by("name"),
        required=False,
        widget=FastSelectMultiple(attrs={"size": 6}),
    )
    left = forms.ModelMultipleChoiceField(
        label="Signataires qui sortent",
        queryset=Partner.objects.none(),
        required=False,
        widget=FastSelectMultiple(attrs={"size": 6}),
    )
    amount_change = FrenchDecimalField(
        label="Variation des montants (€)",
        required=False,
        max_digits=12,
        decimal_places=2,
        help_text="par exemple -2500,00",
    )
    description = forms.CharField(label="Ce qui change", required=False, widget=forms.Textarea(attrs={"rows": 4}))

    def __init__(self, *args, signing, **kwargs):
        super().__init__(*args, **kwargs)
        # Only what a choice shows (its name): the partners of the whole country.
        self.fields["left"].queryset = signing.only("pk", "name")
        joining = Partner.objects.exclude(pk__in=signing.values("pk"))
        self.fields["joined"].queryset = joining.order_by("name").only("pk", "name")


class StatusForm(CadreForm):
    status = forms.ChoiceField(label="Nouvel état", choices=AgreementStatus.choices)
    signed_on = forms.DateField(
        label="Date de signature", required=False, widget=date_input(), help_text="pour une signature"
    )

    def __init__(self, *args, steps, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [(s.value, s.label) for s in AgreementStatus if s in steps]


class RoadmapItemForm(VersionedModelForm):
    note = forms.CharField(
        label="Note d'avancement",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="datée du jour, signée de votre nom",
    )

    class Meta:
        model = RoadmapItem
        fields = ["status", "due"]
        widgets = {"due": date_input()}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = ItemStatus.choices


def lines_of(text):
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


class FrameworkForm(VersionedModelForm):
    values_text = forms.CharField(
        label="Valeurs", required=False, widget=forms.Textarea(attrs={"rows": 3}), help_text="une par ligne"
    )
    purposes_text = forms.CharField(
        label="Finalités", required=False, widget=forms.Textarea(attrs={"rows": 4}), help_text="une par ligne"
    )

    class Meta:
        model = FrameworkAgreement
        fields = ["title", "department", "starts", "ends", "extended_to", "previous", "charter", "notes"]
        widgets = {
            "department": FastSelect,
            "previous": FastSelect,
            "starts": date_input(),
            "ends": date_input(),
            "extended_to": date_input(),
            "charter": forms.Textarea(attrs={"rows": 6}),
            "notes": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial.setdefault("values_text", "\n".join(self.instance.values or []))
        self.initial.setdefault("purposes_text", "\n".join(self.instance.purposes or []))
        previous = FrameworkAgreement.objects.exclude(pk=self.instance.pk).filter(next_edition__isnull=True)
        self.fields["previous"].queryset = previous.order_by("-starts")

    def clean(self):
        cleaned = super().clean()
        self.instance.values = lines_of(cleaned.get("values_text"))
        self.instance.purposes = lines_of(cleaned.get("purposes_text"))
        return cleaned


class SignatoryForm(CadreForm, forms.ModelForm):
    class Meta:
        model = Signatory
        fields = ["partner", "role", "signed_on"]
        widgets = {"partner": FastSelect, "signed_on": date_input()}

    def __init__(self, *args, framework, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.framework = framework
        self.fields["partner"].required = True
        partners = Partner.objects.exclude(signatures__framework=framework)
        self.fields["partner"].queryset = partners.order_by("name").only("pk", "name")


class AgreementForm(VersionedModelForm):
    commune = CommuneField(label="Ville", required=False, help_text="pour une convention tripartite ou une CTG")

    class Meta:
        model = Agreement
        fields = ["framework", "kind", "title", "reference", "commune", "starts", "ends", "notes"]
        widgets = {
            "framework": FastSelect,
            "starts": date_input(),
            "ends": date_input(),
            "notes": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, frameworks, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["framework"].queryset = frameworks


# What the party lists show (names), kept until a partner, a structure or a party changes (tests/test_stamps_funding.py
# checks the tables): hundreds of each, read at every visit otherwise.
PARTY_CHOICES_READS = [Commune, Partner, Signatory, Structure]
_PARTY_CHOICES = Stamped("agreement-party-choices", PARTY_CHOICES_READS)


def _party_querysets(agreement, user):
    """The partners and the structures (among those `user` sees) not party to `agreement` yet, by name."""
    partners = Partner.objects.exclude(signatures__agreement=agreement)
    structures = Structure.objects.visible_to(user).exclude(agreement_signatures__agreement=agreement)
    return partners.order_by("name"), structures.order_by("name")


def _party_choices(agreement, user):
    return [list(queryset.values_list("pk", "name")) for queryset in _party_querysets(agreement, user)]


class PartyForm(CadreForm):
    """A partner or a structure that becomes party to an agreement (among the structures `user` sees)."""

    partner = forms.ModelChoiceField(
        label="Partenaire", queryset=Partner.objects.none(), required=False, widget=FastSelect
    )
    structure = forms.ModelChoiceField(
        label="Structure", queryset=Structure.objects.none(), required=False, widget=FastSelect
    )
    signed_on = forms.DateField(label="Signée le", required=False, widget=date_input())

    def __init__(self, *args, agreement, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["partner"].queryset, self.fields["structure"].queryset = _party_querysets(agreement, user)
        # Listed from the kept names; a posted choice is still checked against the querysets.
        listed = _PARTY_CHOICES.get((user_key(user), agreement.pk), lambda: _party_choices(agreement, user))
        for name, choices in zip(["partner", "structure"], listed, strict=True):
            self.fields[name].choices = [("", self.fields[name].empty_label), *choices]

    def clean(self):
        cleaned = super().clean()
        if bool(cleaned.get("partner")) == bool(cleaned.get("structure")):
            raise forms.ValidationError("Choisissez un partenaire ou une structure (l'un des deux).")
        return cleaned


class NewItemForm(VersionedModelForm):
    class Meta:
        model = RoadmapItem
        fields = ["theme", "title", "owner_partner", "owner_structure", "due", "status"]
        widgets = {"theme": FastSelect, "owner_partner": FastSelect, "owner_structure": FastSelect, "due": date_input()}

    def __init__(self, *args, roadmap, partners, structures, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["theme"].queryset = roadmap.themes.all()
        self.fields["owner_partner"].queryset = partners.only("pk", "name")  # what a choice shows
        self.fields["owner_structure"].queryset = structures.only("pk", "name")
        self.fields["status"].choices = ItemStatus.choices


def datetime_input():
    return forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class MeetingForm(VersionedModelForm):
    class Meta:
        model = Meeting
        fields = ["starts_at", "place", "agenda", "minutes", "present"]
        widgets = {
            "starts_at": datetime_input(),
            "agenda": forms.Textarea(attrs={"rows": 4}),
            "minutes": forms.Textarea(attrs={"rows": 6}),
            "present": forms.CheckboxSelectMultiple,
        }

    def __init__(self, *args, committee, members=None, **kwargs):
        """`members`: the committee's members when the page has them already."""
        super().__init__(*args, **kwargs)
        self.instance.committee = committee
        self.fields["present"].queryset = committee.members.select_related("partner")
        # The boxes listed from the members read once (Django would read them again, through a server-side
        # cursor on PostgreSQL: three round trips); a posted choice is still checked against the queryset.
        members = self.fields["present"].queryset if members is None else members
        self.fields["present"].choices = [(member.pk, str(member)) for member in members]
        self.fields["starts_at"].input_formats = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M"]


class DecisionForm(CadreForm):
    text = forms.CharField(label="Décision", widget=forms.Textarea(attrs={"rows": 3}))
    follow_up = forms.CharField(label="Suite à donner", required=False, max_length=250)
    owner = forms.ModelChoiceField(
        label="Porteur de la suite", queryset=Partner.objects.none(), required=False, widget=FastSelect
    )
    due = forms.DateField(label="Échéance de la suite", required=False, widget=date_input())

    def __init__(self, *args, committee, members=None, **kwargs):
        """`members`: the committee's members with their partners, when the page has them already."""
        super().__init__(*args, **kwargs)
        partners = Partner.objects.filter(pk__in=committee.members.values("partner"))
        self.fields["owner"].queryset = partners.order_by("name").only("pk", "name")
        if members is not None:
            # Listed from the members read once; a posted choice is still checked against the queryset.
            owners = sorted({member.partner_id: member.partner for member in members}.values(), key=lambda p: p.name)
            self.fields["owner"].choices = [("", self.fields["owner"].empty_label)] + [(p.pk, p.name) for p in owners]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("follow_up") and not cleaned.get("due"):
            self.add_error("due", "Une suite à donner a une échéance.")
        return cleaned


class CommitteeForm(VersionedModelForm):
    class Meta:
        model = Committee
        fields = ["kind", "name", "mission"]
        widgets = {"mission": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, framework, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.framework = framework


class MemberForm(CadreForm, forms.ModelForm):
    class Meta:
        model = CommitteeMember
        fields = ["partner", "person", "role"]
        widgets = {"partner": FastSelect}

    def __init__(self, *args, committee, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.committee = committee
        members = committee.members.values("partner")
        self.fields["partner"].queryset = Partner.objects.exclude(pk__in=members).order_by("name").only("pk", "name")


class EventForm(VersionedModelForm):
    class Meta:
        model = Event
        fields = ["kind", "title", "starts_at", "place", "description", "capacity"]
        widgets = {"starts_at": datetime_input(), "description": forms.Textarea(attrs={"rows": 4})}

    def __init__(self, *args, framework, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.framework = framework
        self.fields["starts_at"].input_formats = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M"]


class AttachmentForm(CadreForm):
    kind = forms.ChoiceField(label="Document", choices=AttachmentKind.choices)
    title = forms.CharField(label="Intitulé", required=False, max_length=200)
    file = forms.FileField(label="Fichier", help_text="PDF, ODT, ODS, DOCX, XLSX, PNG ou JPEG ; 10 Mo au plus.")

    def clean_file(self):
        from cadre.core.uploads import check_upload

        upload = self.cleaned_data["file"]
        self.checked = check_upload(upload)  # (name, type, bytes, sha256), or the French refusal at the field
        return upload
