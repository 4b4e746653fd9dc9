from django import forms
from django.db import transaction
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from dsfr.forms import DsfrBaseForm

from cadre.core.models import ConcurrentEditError


class VersionedModelForm(DsfrBaseForm, forms.ModelForm):
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


class FieldsetsMixin:
    """Group a form's fields under legends: `fieldsets = [(legend, [field names])]`."""

    fieldsets = None

    def grouped_fields(self):
        return [(legend, [self[name] for name in names if name in self.fields]) for legend, names in self.fieldsets]


class FastSelect(forms.Select):
    """A <select> whose options are written in Python.

    Django renders each option through a template; for the ~100 départements of a filter
    that costs several milliseconds on every list page.
    """

    def render(self, name, value, attrs=None, renderer=None):
        final_attrs = self.build_attrs(self.attrs, attrs)
        final_attrs["name"] = name
        selected = {str(v) for v in self.format_value(value)}
        options = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            ((key, mark_safe(" selected") if str(key) in selected else "", label) for key, label in self.choices),
        )
        return format_html("<select{}>{}</select>", flatatt(final_attrs), options)


class FastInput(forms.TextInput):
    """A text input written in Python (no template), for pages rendered on every keystroke."""

    def render(self, name, value, attrs=None, renderer=None):
        final_attrs = self.build_attrs(self.attrs, attrs)
        final_attrs.update(type=self.input_type, name=name)
        value = self.format_value(value)
        if value not in (None, ""):
            final_attrs["value"] = value
        return format_html("<input{}>{}", flatatt(final_attrs), self.render_after(final_attrs))

    def render_after(self, attrs):
        return ""
