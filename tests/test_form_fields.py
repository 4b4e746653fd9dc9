"""Form fields drawn in Python (cadre.core.forms.FastBoundField) give the markup of the DSFR input snippet they
replace (core/templates/dsfr/form_field_snippets/input_snippet.html): label, marks, hint, input, errors."""

import re

from django import forms
from django.forms.boundfield import BoundField

from cadre.core.forms import CadreForm, FastBoundField, FastSelect


class Sample(CadreForm):
    name = forms.CharField(label="Nom de l'« espace »", help_text="Tel qu'il <strong>figure</strong> aux statuts")
    email = forms.EmailField(label="Adresse", required=False)
    amount = forms.DecimalField(label="Montant", required=False, disabled=True)
    kind = forms.ChoiceField(label="Type", choices=[("a", "Centre social"), ("b", "EVS")])
    fast_kind = forms.ChoiceField(label="Type (liste)", choices=[("a", "A")], widget=FastSelect)
    notes = forms.CharField(label="Notes", widget=forms.Textarea, required=False)
    since = forms.DateField(label="Depuis", widget=forms.DateInput(attrs={"type": "date"}), required=False)


class Amounts(Sample):
    every_field_optional = True


def from_template(bound):
    return BoundField.as_field_group(bound)  # Django's way: the field's template


def same_markup(html):
    html = re.sub(r">\s+", ">", str(html))
    return re.sub(r"\s+<", "<", html).strip()


def test_every_kind_of_field_matches_the_template_blank_bound_and_with_errors():
    forms_drawn = [
        Sample(),
        Sample({"name": "", "email": "pas une adresse", "kind": "z"}),
        Sample({"name": "Centre", "email": "a@b.fr", "kind": "a", "fast_kind": "a", "since": "2024-01-02"}),
        Amounts(),
    ]
    for form in forms_drawn:
        if form.is_bound:
            form.is_valid()
        for name in form.fields:
            bound = form[name]
            assert isinstance(bound, FastBoundField)
            assert same_markup(bound.as_field_group()) == same_markup(from_template(bound)), name


def test_the_label_is_escaped_and_the_marks_and_errors_are_there():
    form = Sample({"name": "", "kind": "a", "fast_kind": "a"})
    form.is_valid()
    name = str(form["name"].as_field_group())
    assert "Nom de l&#x27;« espace »" in name and "fr-input-group--error" in name
    assert 'id="id_name_helptext">Tel qu\'il <strong>figure</strong> aux statuts' in name
    assert 'aria-describedby="id_name-desc-error"' in name and "Ce champ est obligatoire." in name
    assert "(Optionnel)" in str(form["email"].as_field_group())
    assert "(Optionnel)" not in str(Amounts()["email"].as_field_group())
    assert "fr-input-group--disabled" in str(form["amount"].as_field_group())
