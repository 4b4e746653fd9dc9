"""Forms of difficulty reports and support cases. The workflows (actions.py) do the writing."""

import datetime

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q

from cadre.agreements.models import Decision, Meeting
from cadre.core.forms import CadreForm, FrenchDecimalField, date_input
from cadre.core.uploads import ALLOWED_LABEL, check_upload, max_bytes, weight
from cadre.monitoring.case_models import (
    CaseOutcome,
    CaseStatus,
    Circle,
    DifficultyCategory,
    Urgency,
)
from cadre.monitoring.ratios import RATIOS
from cadre.partners.models import Partner

MAX_ATTACHMENTS = 5


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if isinstance(data, list | tuple):
            return [super(MultipleFileField, self).clean(item, initial) for item in data]
        return [super().clean(data, initial)] if data else []


def _upload_help():
    return f"{ALLOWED_LABEL} ; {weight(max_bytes())} au plus par fichier."


class ReportForm(CadreForm):
    category = forms.ChoiceField(label="Nature de la difficulté", choices=DifficultyCategory.choices)
    urgency = forms.ChoiceField(label="Urgence", choices=Urgency.choices, initial=Urgency.NORMAL)
    description = forms.CharField(
        label="Description",
        help_text="Ce qui se passe, depuis quand, ce qui est déjà fait, ce dont vous avez besoin.",
        widget=forms.Textarea(attrs={"rows": 6}),
        max_length=5000,
    )
    files = MultipleFileField(
        label="Pièces jointes (facultatif)",
        required=False,
        help_text=f"Jusqu'à {MAX_ATTACHMENTS} fichiers : {_upload_help()}",
    )

    def clean_description(self):
        text = self.cleaned_data["description"].strip()
        if len(text) < 20:
            raise ValidationError("Décrivez la difficulté en quelques phrases (20 caractères au moins).")
        return text

    def clean_files(self):
        uploads = self.cleaned_data.get("files") or []
        if len(uploads) > MAX_ATTACHMENTS:
            raise ValidationError(f"Au plus {MAX_ATTACHMENTS} pièces jointes.")
        self.checked = []
        for upload in uploads:
            try:
                self.checked.append(check_upload(upload))
            except ValidationError as error:
                raise ValidationError(f"{upload.name} : {error.messages[0]}") from error
        return uploads


class PartnerChoice(forms.ModelChoiceField):
    def label_from_instance(self, partner):
        return partner.name


class PartnerChoices(forms.ModelMultipleChoiceField):
    def label_from_instance(self, partner):
        return partner.name


def partners_around(structure, also=()):
    """The partners that may be concerned by a structure's case: those covering its département or commune, and
    `also` (ids)."""
    department = structure.commune.department_id
    # Subqueries rather than joins: the join on the covered communes walked all the communes of France.
    by_department = Partner.departments.through.objects.filter(department_id=department).values("partner_id")
    by_commune = Partner.communes.through.objects.filter(commune__department_id=department).values("partner_id")
    return Partner.objects.filter(Q(pk__in=sorted(also)) | Q(pk__in=by_department) | Q(pk__in=by_commune)).order_by(
        "name"
    )


class CaseOpenForm(CadreForm):
    committee = forms.ModelChoiceField(label="Instance d'appui", queryset=None, empty_label=None)
    title = forms.CharField(label="Objet du dossier", max_length=200)
    lead = PartnerChoice(label="Pilote", queryset=None, required=False, help_text="Le partenaire qui suit le dossier.")
    lead_person = forms.CharField(label="Référent", max_length=150, required=False)
    members = PartnerChoices(
        label="Partenaires concernés",
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Ils voient le dossier et ses notes partagées entre partenaires.",
    )

    def __init__(self, *args, structure, bodies, told, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["committee"].queryset = bodies
        around = partners_around(structure, told)
        self.fields["lead"].queryset = around
        self.fields["members"].queryset = around
        # Each list read once for the page (a model field's widget reads its queryset at each pass, and the
        # partners are offered twice); the querysets still check what is sent.
        self.fields["committee"].choices = [(body.pk, str(body)) for body in bodies]
        partners = [(partner.pk, partner.name) for partner in around]
        self.fields["lead"].choices = [("", "---------"), *partners]
        self.fields["members"].choices = partners
        self.initial.setdefault("members", list(told))


class NoteForm(CadreForm):
    prefix = "note"

    text = forms.CharField(label="Note", widget=forms.Textarea(attrs={"rows": 4}), max_length=10000)
    circle = forms.ChoiceField(label="Visible par", widget=forms.RadioSelect)

    def __init__(self, *args, circles, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["circle"].choices = [(c.value, c.label) for c in circles]
        self.fields["circle"].initial = circles[0].value if circles else None

    def clean_text(self):
        text = self.cleaned_data["text"].strip()
        if not text:
            raise ValidationError("Écrivez la note.")
        return text


class CaseDocumentForm(CadreForm):
    prefix = "document"

    title = forms.CharField(label="Intitulé", max_length=200)
    file = forms.FileField(label="Fichier", help_text=_upload_help)
    circle = forms.ChoiceField(label="Visible par", widget=forms.RadioSelect)

    def __init__(self, *args, circles, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["circle"].choices = [(c.value, c.label) for c in circles]
        self.fields["circle"].initial = circles[0].value if circles else None

    def clean_file(self):
        upload = self.cleaned_data["file"]
        self.checked = check_upload(upload)
        return upload


STRUCTURE_OWNER = "structure"


class ActionForm(CadreForm):
    prefix = "action"

    title = forms.CharField(label="Action", max_length=250)
    description = forms.CharField(
        label="Précisions", widget=forms.Textarea(attrs={"rows": 3}), max_length=5000, required=False
    )
    owner = forms.ChoiceField(label="Porteur")
    due = forms.DateField(label="Échéance", widget=date_input())
    circle = forms.ChoiceField(label="Visible par", widget=forms.RadioSelect)

    def __init__(self, *args, case, circles, **kwargs):
        super().__init__(*args, **kwargs)
        self.case = case
        partners = Partner.objects.filter(
            Q(pk__in=case.members.values("pk")) | Q(pk__in=case.committee.members.values("partner_id"))
        ).order_by("name")
        self.partners = {str(p.uuid): p for p in partners}
        self.fields["owner"].choices = [
            (STRUCTURE_OWNER, f"La structure ({case.structure.name})"),
            *[(key, p.name) for key, p in self.partners.items()],
        ]
        if "circle" in self.fields:
            self.fields["circle"].choices = [(c.value, c.label) for c in circles]
            self.fields["circle"].initial = Circle.PARTNERS if Circle.PARTNERS in circles else circles[0].value

    def clean_due(self):
        due = self.cleaned_data["due"]
        if due < datetime.date.today() - datetime.timedelta(days=365):
            raise ValidationError("Cette échéance est passée depuis plus d'un an : vérifiez la date.")
        return due

    def action_circle(self):
        return self.cleaned_data.get("circle")

    def clean(self):
        data = super().clean()
        owner, circle = data.get("owner"), self.action_circle()
        if owner and circle:
            is_structure = owner == STRUCTURE_OWNER
            if not self.case.owner_reads(circle, owner=self.partners.get(owner), owner_is_structure=is_structure):
                who = "La structure" if is_structure else "Ce partenaire"
                self.add_error(
                    "owner",
                    f"{who} ne lit pas une action « {Circle(circle).label.lower()} » : choisissez un autre porteur "
                    "ou un cercle plus large.",
                )
        return data

    @property
    def owner_partner(self):
        return self.partners.get(self.cleaned_data["owner"])

    @property
    def owner_is_structure(self):
        return self.cleaned_data["owner"] == STRUCTURE_OWNER


class ActionEditForm(ActionForm):
    """Change an action: everything but its circle (what was written for the body stays the body's), on the version
    read; a done action may be reopened."""

    prefix = None
    circle = None
    version = forms.IntegerField(widget=forms.HiddenInput)
    reopen = forms.BooleanField(
        label="Rouvrir l'action", required=False, help_text="Elle redevient à faire et reparaît dans le calendrier."
    )

    def __init__(self, *args, action, **kwargs):
        self.action = action
        kwargs.setdefault(
            "initial",
            {
                "title": action.title,
                "description": action.description,
                "owner": STRUCTURE_OWNER
                if action.owner_is_structure
                else (str(action.owner.uuid) if action.owner else ""),
                "due": action.due,
                "version": action.version,
            },
        )
        super().__init__(*args, case=action.case, circles=[], **kwargs)
        if not action.owner_is_structure and action.owner is None:
            self.fields["owner"].choices = [("", "—"), *self.fields["owner"].choices]
            self.fields["owner"].required = False
        if not action.done_on:
            del self.fields["reopen"]

    def action_circle(self):
        return self.action.circle

    def clean_due(self):
        due = self.cleaned_data["due"]
        if due == self.action.due:  # an old date kept as it was is not refused
            return due
        return super().clean_due()

    @property
    def owner_partner(self):
        return self.partners.get(self.cleaned_data.get("owner") or "")


class StatusForm(CadreForm):
    prefix = "status"

    status = forms.ChoiceField(label="Nouvel état")
    outcome = forms.ChoiceField(label="Issue (pour clore)", choices=[("", "—"), *CaseOutcome.choices], required=False)
    comment = forms.CharField(label="Commentaire (facultatif)", max_length=250, required=False)
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, case, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [(s.value, s.label) for s in case.next_statuses()]
        self.initial.setdefault("version", case.version)

    def clean(self):
        data = super().clean()
        if data.get("status") == CaseStatus.CLOSED and not data.get("outcome"):
            self.add_error("outcome", "Indiquez l'issue du dossier pour le clore.")
        if data.get("outcome") and data.get("status") != CaseStatus.CLOSED:
            self.add_error("outcome", "L'issue ne se donne qu'à la clôture du dossier.")
        return data


class LinkForm(CadreForm):
    prefix = "link"

    meeting = forms.ModelChoiceField(label="Réunion", queryset=None, required=False)
    decision = forms.ModelChoiceField(label="Décision", queryset=None, required=False)

    def __init__(self, *args, case, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["meeting"].queryset = Meeting.objects.filter(
            committee__framework=case.committee.framework_id
        ).select_related("committee")
        self.fields["decision"].queryset = Decision.objects.filter(
            meeting__committee__framework=case.committee.framework_id
        ).select_related("meeting__committee")
        self.fields["decision"].label_from_instance = lambda d: f"{d} — {d.meeting}"

    def clean(self):
        data = super().clean()
        if not data.get("meeting") and not data.get("decision"):
            raise ValidationError("Choisissez une réunion ou une décision à lier au dossier.")
        return data


class PlanForm(CadreForm):
    adopted_on = forms.DateField(label="Adopté le", widget=date_input())
    summary = forms.CharField(label="Mesures prévues", widget=forms.Textarea(attrs={"rows": 5}), max_length=10000)
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)


class MilestoneForm(CadreForm):
    title = forms.CharField(label="Jalon", max_length=250)
    due = forms.DateField(label="Échéance", widget=date_input())


class TargetForm(CadreForm):
    ratio = forms.ChoiceField(label="Ratio", choices=[(r.code, f"{r.label} ({r.unit})") for r in RATIOS])
    year = forms.IntegerField(label="Exercice", min_value=2000, max_value=2100)
    target = FrenchDecimalField(label="Valeur visée", max_digits=14, decimal_places=2)
    at_least = forms.BooleanField(
        label="Valeur plancher",
        required=False,
        initial=True,
        help_text="Décochez quand la valeur visée est un plafond.",
    )

    def clean(self):
        data = super().clean()
        unit = {r.code: r.unit for r in RATIOS}.get(data.get("ratio"))
        target = data.get("target")
        if target is not None and unit in {"jours", "mois", "exercices"} and target < 0:
            self.add_error("target", "Cette valeur ne peut pas être négative.")
        if target is not None and unit == "%" and abs(target) > 1000:
            self.add_error("target", "Une part s'écrit en pourcentage : vérifiez la valeur visée.")
        return data
