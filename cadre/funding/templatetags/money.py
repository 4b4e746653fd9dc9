from django import template

from cadre.core.charts import format_number
from cadre.funding.models import format_euros

register = template.Library()


@register.filter
def euros(amount):
    """« 12 345,67 € »; « — » when there is no amount."""
    return format_euros(amount)


@register.filter
def percent(value):
    return "—" if value is None else format_number(value, 1, "%")
