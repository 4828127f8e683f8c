"""Thin adapters: each module turns a trigger into a call of domain code in `shared/`."""

from functions import (
    authoring,
    authoring_page,
    consent,
    events,
    health,
    notifications,
    openapi,
    ops,
    reports,
    reports_page,
    surveys,
    timers,
)

# The report page's catch-all route comes last: the local host matches in this order.
BLUEPRINTS = (
    health.bp,
    openapi.bp,
    consent.bp,
    events.bp,
    ops.bp,
    reports.bp,
    timers.bp,
    notifications.bp,
    authoring.bp,
    surveys.bp,
    authoring_page.bp,
    reports_page.bp,
)
