"""{% load french %}: {{ n|plural:"structure" }} → « 1 structure », {{ name|of }} → « du Centre… »."""

from django import template

from cadre.core import french

register = template.Library()


@register.filter
def plural(count, forms):
    return french.plural(count, forms)


@register.filter
def plural_word(count, forms):
    """The word alone, agreed with `count`: {{ n|plural_word:"reste,restent" }}."""
    return french.plural(count, forms, with_number=False)


@register.filter(name="of")
def of_name(name):
    return french.of(name)
