from django import template

from cadre.core.charts import format_number
from cadre.core.french import plural
from cadre.funding.models import format_euros

register = template.Library()


@register.filter
def ratio_value(value, ratio):
    """A ratio's value in French writing with its unit: « 43,4 jours », « −1,0 % », « 60 000,00 € », « — »."""
    if value is None:
        return "—"
    if ratio.unit == "€":
        return format_euros(value)
    if ratio.unit == "%":
        return f"{format_number(value, 1)} %"
    if ratio.unit == "exercices":
        return plural(value, "exercice")
    return f"{format_number(value, 1)} {plural(value, ratio.unit[:-1] + ',' + ratio.unit, with_number=False)}"
