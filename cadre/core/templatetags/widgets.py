"""{% load widgets %}: form widgets parts written in plain Python."""

from django import template
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe
from dsfr.templatetags.dsfr_tags import dsfr_mark_optionnal_fields

from cadre.core.forms import html_attributes

register = template.Library()


@register.simple_tag
def select_options(optgroups):
    """The <option>s (and <optgroup>s) of a select widget's context, as Django's select_option.html writes
    them: that template, included once per option, cost more than the rest of a form with a list of
    structures, partners or communes."""
    parts = []
    for group_name, options, _ in optgroups:
        if group_name:
            parts.append(f'<optgroup label="{conditional_escape(group_name)}">')
        for option in options:
            value, label = conditional_escape(str(option["value"])), conditional_escape(option["label"])
            parts.append(f'<option value="{value}"{html_attributes(option["attrs"])}>{label}</option>')
        if group_name:
            parts.append("</optgroup>")
    return mark_safe("\n".join(parts))


@register.simple_tag
def widget_attrs(attrs):
    """A widget's attributes, as Django's attrs.html writes them (with one loop of template tags per attribute)."""
    return mark_safe(html_attributes(attrs))


@register.simple_tag
def input_element(widget):
    """The <input> of a widget's context, as Django's input.html writes it: every text, number, date, e-mail
    and checkbox field of a form goes through it (its template stays on one line: checkboxes include it inside
    their <label>, where a line break would show as a space)."""
    attrs = {"type": widget["type"], "name": widget["name"]}
    if widget["value"] is not None:
        attrs["value"] = widget["value"]
    for name, value in widget["attrs"].items():
        attrs.setdefault(name, value)  # as in the browser, which keeps the first of two « type »
    return mark_safe(f"<input{html_attributes(attrs)}>")


@register.filter
def group_class(field):
    """The DSFR class of a field's group: « fr-input-group » unless its widget names another (selects, uploads).
    In Python: a missing attribute costs a template lookup a `dir()` of the widget."""
    return getattr(field.field.widget, "group_class", "fr-input-group")


@register.simple_tag
def required_marker(field):
    """The « (Optionnel) » of django-dsfr's dsfr_mark_optionnal_fields, except where it says nothing: on filter
    forms, and on forms of many amounts that may be left empty (`every_field_optional`, said once on the page)."""
    if getattr(field.form, "is_filter_form", False) or getattr(field.form, "every_field_optional", False):
        return ""
    return dsfr_mark_optionnal_fields(field)
