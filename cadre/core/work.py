"""What waits for a user, for the home page. Each domain app registers, in its AppConfig.ready, a provider
`provider(user, today)` that gives a few WorkItem, each a count read by one query over the user's scope, and a link
to the list where the work is done. Core knows none of the apps; the home page shows what they say.

Each provider names the models it reads: the home page is cached under their stamps (cadre.core.stamps), so it
costs a handful of queries at national scale and is computed again as soon as one of those tables changes."""

import dataclasses

from cadre.core.stamps import Stamped, user_key


@dataclasses.dataclass
class WorkItem:
    group: str  # where the work belongs: « Observatoire », « Financements »…
    label: str  # what it is, agreeing with the count: « 3 questionnaires à examiner »
    count: int
    url: str
    urgent: bool = False  # late or refused: shown first, in the warning colour
    detail: str = ""


_PROVIDERS = []
_HOME = Stamped("home")


def register(provider, reads):
    """`provider(user, today)` gives WorkItems, read from `reads` (models) alone."""
    _PROVIDERS.append(provider)
    _HOME.add(reads)


def work_for(user, today):
    """The user's WorkItems with something to do, urgent first, in the providers' order otherwise."""
    items = [item for provider in _PROVIDERS for item in provider(user, today) if item.count]
    return sorted(items, key=lambda item: not item.urgent)


_UPCOMING = []


def register_upcoming(provider, reads):
    """`provider(user, today)` gives dated obligations (with .day, .kind, .title, .path), soonest first, read
    from `reads` (models) alone."""
    _UPCOMING.append(provider)
    _HOME.add(reads)


def upcoming_for(user, today, limit=6):
    found = [item for provider in _UPCOMING for item in provider(user, today)]
    return sorted(found, key=lambda item: item.day)[:limit]


def home_for(user, today):
    """(work_for, upcoming_for) of the user, computed again only when a table they read has changed."""
    return _HOME.get((user_key(user), today), lambda: (work_for(user, today), upcoming_for(user, today)))
