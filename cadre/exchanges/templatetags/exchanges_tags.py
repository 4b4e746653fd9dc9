from django import template

register = template.Library()


@register.filter
def fr_plural(count, suffix="s"):
    """French agreement: 0 and 1 take the singular (« 0 réponse modifiée »), unlike Django's pluralize."""
    try:
        return suffix if abs(int(count)) >= 2 else ""
    except (TypeError, ValueError):
        return ""
