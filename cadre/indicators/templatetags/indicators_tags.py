from django import template

from cadre.core.charts import format_number
from cadre.indicators.queries import display

register = template.Library()


@register.simple_tag
def figure_text(indicator, value, public=False):
    return display(indicator, value or None, public=public)


@register.simple_tag
def figure_number(indicator, number):
    return format_number(number, indicator.decimals, indicator.unit)
