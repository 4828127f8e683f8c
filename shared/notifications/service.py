"""Notifications and surveys: product communication inside Cetegra, the in-house Beamer.

Privacy overview: "Cetegra Workspace includes built-in functionality to show important product
notifications and collect optional feedback about updates ... To avoid showing the same message
repeatedly, a pseudonymous user identifier and company association may be used. This information
is used only for product communication and feedback, and is not shared with third parties."

`Notifications` is what the routes, the demo data and the benchmarks call: one object over one
store, composed of the package's parts, each with its rules in its docstring:

* `delivery`: the user's pending items, seen, dismiss, answer, and the live-items cache (state and
  answers under the notification key; consent never read);
* `authoring`: items written, published and archived by authors;
* `results`: survey results as released snapshots, NPS trends, the readers' report;
* `reach`: how far an item got, released once per closed day (differential privacy);
* `models`: the routes' request and response models and limits;
* `holder`: retention, erasure and export of state and answers (registered as a holder in
  `shared/services.py`, not reached through this class).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from shared.notifications.authoring import Authoring
from shared.notifications.cadence import UNLIMITED, Cadence
from shared.notifications.delivery import CACHE_SECONDS, Delivery, preferred_languages
from shared.notifications.models import (
    Action,
    DirectoryTenant,
    ItemFields,
    ItemList,
    ItemPatch,
    ItemReach,
    ItemView,
    PendingList,
    ReachList,
    SurveyAnswer,
    SurveyReport,
    SurveyResults,
    TenantDirectory,
    TenantKeys,
)
from shared.notifications.reach import Reach
from shared.notifications.results import Results
from shared.privacy.disclosure.releases import Releaser
from shared.privacy.identity import Principal
from shared.privacy.pseudonyms import Pseudonymizer
from shared.storage.notifications import NotificationStore


class Notifications:
    def __init__(
        self,
        store: NotificationStore,
        pseudonymizer: Pseudonymizer,
        clock: Callable[[], datetime],
        *,
        k: int,
        monotonic: Callable[[], float] = time.monotonic,
        cache_seconds: float = CACHE_SECONDS,
        tenants: TenantKeys | None = None,
        releaser: Releaser | None = None,
    ) -> None:
        """`releaser` draws the reach and survey releases (`shared.services` passes the deployment's; by
        default real noise at `k`)."""
        self._delivery = Delivery(
            store, pseudonymizer, clock, monotonic=monotonic, cache_seconds=cache_seconds, tenants=tenants
        )
        self._authoring = Authoring(store, clock, changed=self._delivery.invalidate)
        self._results = Results(store, clock, k=k, tenants=tenants, releaser=releaser or Releaser(k))
        self._reach = Reach(store, clock, releaser=releaser or Releaser(k))
        self._store = store

    # ---- users ----------------------------------------------------------------------------------

    def pending(
        self,
        principal: Principal,
        app: str | None,
        lang: str | None = None,
        *,
        cadence: Cadence = UNLIMITED,
    ) -> PendingList:
        """The caller's feed; `lang` as the client sends it (`nb-NO,en`), `cadence` the
        deployment's (`Cadence.of(settings)`; the default asks without limits)."""
        return self._delivery.pending(principal, app, preferred_languages(lang), cadence)

    def mark(self, principal: Principal, item_id: str, action: Action) -> None:
        self._delivery.mark(principal, item_id, action)

    def answer(self, principal: Principal, item_id: str, answer: SurveyAnswer) -> None:
        self._delivery.answer(principal, item_id, answer)

    def invalidate(self) -> None:
        """Drop this instance's cached live items: the next `pending` reads them again."""
        self._delivery.invalidate()

    # ---- authors and readers --------------------------------------------------------------------

    def create(self, fields: ItemFields) -> ItemView:
        return self._authoring.create(fields)

    def items(self) -> ItemList:
        return self._authoring.items()

    def item(self, item_id: str) -> ItemView:
        return self._authoring.item(item_id)

    def update(self, item_id: str, patch: ItemPatch) -> ItemView:
        return self._authoring.update(item_id, patch)

    def results(self, item_id: str, *, with_comments: bool) -> SurveyResults:
        return self._results.results(self._authoring.existing(item_id), with_comments=with_comments)

    def survey_report(self) -> SurveyReport:
        return self._results.survey_report()

    def reach(self, item_id: str) -> ItemReach:
        return self._reach.of(self._authoring.existing(item_id))

    def reach_all(self) -> ReachList:
        return self._reach.every()

    def duplicate(self, item_id: str) -> ItemView:
        return self._authoring.duplicate(item_id)

    def tenant_directory(self) -> TenantDirectory:
        """The directory's keys and names, sorted by name (authors pick audiences by name; no
        counts, no first-seen day)."""
        entries = sorted(
            self._store.tenant_directory(), key=lambda e: ((e.name or "\uffff").casefold(), e.key)
        )
        return TenantDirectory(tenants=[DirectoryTenant(tenant=e.key, name=e.name) for e in entries])
