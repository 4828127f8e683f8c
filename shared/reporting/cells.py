"""What a report cell is keyed by, for the nightly build and the reader alike: the grains, the scopes
a user-day counts in (its own row and the three `(all)` roll-ups), the `(all)` margin, `(other)`
and `(none)`, and what a feature is. Kept in one place so that the reader asks for exactly the
rows the build writes.
"""

from __future__ import annotations

from typing import Literal

from shared.privacy.disclosure import MARGIN

ALL = MARGIN
"""A report row's `(all)`: a margin, released in its own right (docs/privacy-model.md)."""
OTHER, NO_APP, NO_TYPE = "(other)", "(none)", "(none)"
PAGE_VIEW = "nav.page_view"
Grain = Literal["day", "week", "month"]
Key = tuple[str, ...]


def feature_of(name: str, page: str | None) -> str:
    """A feature is the event name, or for a page view the page's route template."""
    if name == PAGE_VIEW and page:
        return page
    return name


def scopes(tenant: str, user_type: str) -> tuple[Key, Key, Key, Key]:
    """The four rows a user-day counts in: its own and the three `(all)` roll-ups."""
    return (tenant, user_type), (tenant, ALL), (ALL, user_type), (ALL, ALL)
