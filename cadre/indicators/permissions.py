"""Named rights of the indicators, shared by pages, templates and the API.

Reading a definition goes through `Indicator.objects.visible_to(user)`; these say who may act.
"""

from cadre.observatory.permissions import is_data_manager


def can_define_indicators(user):
    """Create an indicator or save a new version of its definition: the partnership's data manager."""
    return is_data_manager(user)
