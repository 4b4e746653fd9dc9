import html

from django import forms
from django.db import models, transaction
from django.forms.models import ModelChoiceIterator
from django.utils.html import conditional_escape
from django.utils.safestring import SafeData, mark_safe
from dsfr.forms import DsfrBaseForm, DsfrBoundField
from dsfr.utils import dsfr_input_class_attr

from cadre.core.models import ConcurrentEditError

INPUT_SNIPPET = "dsfr/form_field_snippets/input_snippet.html"


class FastBoundField(DsfrBoundField):
    """A field drawn as the generic group (label, mark, hint, input, errors) of our input_snippet.html (django-dsfr's,
    core/templates/dsfr/form_field_snippets), written in Python.

    That template draws most fields of every form, and through its tags it cost a third of a form page (the
    structure form: 21 fields, 7 of its 30 ms). Same markup, same helpers (the input's classes, the group, the
    optional mark); the other snippets (checkboxes, radios) keep their templates."""

    def as_field_group(self):
        if self.template_name != INPUT_SNIPPET:
            return super().as_field_group()
        from cadre.core.templatetags.widgets import group_class, required_marker  # they import this module

        dsfr_input_class_attr(self)
        group = group_class(self)
        classes = group + (f" {group}--error" if self.errors else "")
        classes += " fr-input-group--disabled" if self.field.disabled else ""
        field_id = conditional_escape(self.id_for_label)
        hint = ""
        if self.help_text:  # written by us, shown as is (the template's |safe)
            hint = f'<span class="fr-hint-text" id="{field_id}_helptext">{self.help_text}</span>'
        errors = f'<div id="{conditional_escape(self.auto_id)}-desc-error">{self.errors}</div>' if self.errors else ""
        mark = conditional_escape(required_marker(self))
        return mark_safe(
            f'<div class="{conditional_escape(classes)}">\n'
            f'<label for="{field_id}" class="fr-label">{conditional_escape(self.label)}{mark}{hint}</label>\n'
            f"{self.as_widget()}{errors}</div>"
        )


class CadreForm(DsfrBaseForm):
    """The base of every form: django-dsfr's, its fields drawn by FastBoundField."""

    bound_field_class = FastBoundField


class VersionedModelForm(CadreForm, forms.ModelForm):
    """A ModelForm that carries the version it was read at, so a stale save is refused."""

    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["version"] = self.instance.version

    def save_relations(self):
        self.save_m2m()

    def save_tracked(self, user):
        instance = super().save(commit=False)
        instance.save_tracked(
            expected_version=self.cleaned_data.get("version") if instance.pk else None,
            save_relations=self.save_relations,
            user=user,
        )
        return instance

    def save_or_conflict(self, user):
        """Save, or on a concurrent change keep the user's input, list what changed and return None."""
        try:
            with transaction.atomic():
                return self.save_tracked(user)
        except ConcurrentEditError as conflict:
            self.conflict = conflict.changes
            data = self.data.copy()
            # Saving again is a deliberate choice made after seeing what changed meanwhile.
            data["version"] = type(self.instance)._default_manager.get(pk=self.instance.pk).version
            self.data = data
            self.add_error(
                None,
                "Cette fiche a été modifiée par quelqu'un d'autre pendant votre saisie. Rien n'a été enregistré : "
                "vérifiez les changements ci-dessous puis enregistrez à nouveau pour confirmer les vôtres.",
            )
            return None


class FrenchDecimalField(forms.DecimalField):
    """A number as French writes it: « 1 000 000,5 » (spaces between thousands, decimal comma)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("localize", True)  # shown with a decimal comma too
        super().__init__(*args, **kwargs)

    def to_python(self, value):
        if isinstance(value, str):
            value = "".join(value.split()).replace("\u202f", "").replace(",", ".")
        return super().to_python(value)


def french_decimals(model_field, **kwargs):
    """ModelForm `formfield_callback`: decimal model fields take French writing."""
    if isinstance(model_field, models.DecimalField):
        return model_field.formfield(form_class=FrenchDecimalField, **kwargs)
    return model_field.formfield(**kwargs)


def date_input():
    """A date picker that shows and reads ISO dates (the browser displays them the French way)."""
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def add_model_errors(form, error):
    """A refusal of the model's rules (ValidationError), shown at the field it names or above the form."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, errors in error.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


class FieldsetsMixin:
    """Group a form's fields under legends: `fieldsets = [(legend, [field names])]`."""

    fieldsets = None

    def grouped_fields(self):
        return [(legend, [self[name] for name in names if name in self.fields]) for legend, names in self.fieldsets]


def html_attributes(attrs):
    """` name="value"` pairs as flatatt writes them (True: bare name; False or None: left out), in plain Python."""
    parts = []
    for name, value in attrs.items():
        if value is True:
            parts.append(f" {name}")
        elif value is not False and value is not None:
            parts.append(f' {name}="{value if isinstance(value, SafeData) else html.escape(str(value))}"')
    return "".join(parts)


class FastSelect(forms.Select):
    """A <select> written in plain Python.

    Django renders each option through a template (and format_html through lazy wrappers):
    the selects of a filter form cost more than the rest of a list page.
    """

    def render(self, name, value, attrs=None, renderer=None):
        final_attrs = {**self.build_attrs(self.attrs, attrs), "name": name}
        if self.allow_multiple_selected:
            final_attrs["multiple"] = True
        selected = {str(v) for v in self.format_value(value)}
        options = self.options_html(self.listed_choices(), selected)
        return mark_safe(f"<select{html_attributes(final_attrs)}>{options}</select>")

    def listed_choices(self):
        """The choices; those of a model field read by one plain query: Django reads them through
        queryset.iterator(), a server-side cursor on PostgreSQL (three round trips instead of one)."""
        if not isinstance(self.choices, ModelChoiceIterator):
            return self.choices
        field = self.choices.field
        empty = [("", field.empty_label)] if field.empty_label is not None else []
        return empty + [self.choices.choice(obj) for obj in field.queryset]

    def options_html(self, choices, selected):
        """The <option>s of `choices`; a (group name, [choices]) pair is an <optgroup>."""
        parts = []
        for key, label in choices:
            if isinstance(label, (list, tuple)):
                parts.append(
                    f'<optgroup label="{html.escape(str(key))}">{self.options_html(label, selected)}</optgroup>'
                )
            else:
                parts.append(
                    f'<option value="{html.escape(str(key))}"{" selected" if str(key) in selected else ""}>'
                    f"{html.escape(str(label))}</option>"
                )
        return "".join(parts)


class FastSelectMultiple(FastSelect, forms.SelectMultiple):
    """FastSelect's list box, for several choices."""


class FastInput(forms.TextInput):
    """A text input written in plain Python (no template), for pages rendered on every keystroke."""

    def render(self, name, value, attrs=None, renderer=None):
        final_attrs = self.build_attrs(self.attrs, attrs)
        final_attrs.update(type=self.input_type, name=name)
        value = self.format_value(value)
        if value not in (None, ""):
            final_attrs["value"] = value
        return mark_safe(f"<input{html_attributes(final_attrs)}>{self.render_after(final_attrs)}")

    def render_after(self, attrs):
        return ""
