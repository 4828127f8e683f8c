"""SYNTHETIC demo data for `make run`: so a newcomer opening /reports/ sees populated reports.

Everything here is made up and labelled so: tenants are named "DEMO ... (synthetic)", user ids
are `demo-user-N`. The events go through the project's own layers (the pseudonymizer with the
local dev salt, the tenant directory, `Storage.write_events`, then the aggregation timer's code),
so the reports show exactly what the real pipeline would build from such traffic. The product
communication is seeded the same way (`shared.notifications.service`): one notification for the demo's
notification centre, a quarterly NPS series and a rating survey, answered by the synthetic users
through `Notifications.answer`; each survey's results snapshot is taken by the domain's own rule
(`results`, the scheduled snapshots of `shared.privacy.disclosure.surveys`) when its window
closes, or now for the open one.

Smaller demos for tests: DEMO_DAYS (days of events, default 120) and DEMO_USERS (synthetic users
over the five tenants, default 159).

Refused in Azure (WEBSITE_SITE_NAME set, or settings that say so): demo data must never mix with
real usage data. The local host seeds only when no event or report table exists yet.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import threading
import time as time_module
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from shared.ingestion.catalogues import app_id, page_template
from shared.ingestion.ingest import keep
from shared.kernel.logs import log
from shared.notifications.models import ItemFields, ItemPatch, Question, SurveyAnswer
from shared.notifications.service import Notifications
from shared.privacy.disclosure.releases import Releaser
from shared.privacy.identity import Principal
from shared.privacy.tenants import TenantName
from shared.reporting.markers import MarkerFields
from shared.services import Services, services
from shared.storage.events import StoredEvent

LOG = logging.getLogger("cetegra.demo")
DAYS = 120
LAUNCH_DAYS_AGO = 45
"""The synthetic "insights" feature launched this many days before today: the middle of the report
page's default 90-day range, which is where its launch comparison looks by default."""
TENANTS = (
    ("DEMO Contoso Energy (synthetic)", 60),
    ("DEMO Fabrikam Drilling (synthetic)", 42),
    ("DEMO Northwind Geoscience (synthetic)", 28),
    ("DEMO Tailspin Offshore (synthetic)", 18),
    ("DEMO Woodgrove Subsurface (synthetic)", 11),
)
PAGES = {
    "workspace": ("/home", "/projects", "/projects/{id}", "/search"),
    "docs": ("/docs", "/docs/{id}", "/docs/search"),
    "catalog": ("/catalog", "/catalog/{id}"),
    "support": ("/support", "/support/cases", "/support/cases/{id}"),
}


class DemoRefused(RuntimeError):
    """Demo data is local-only."""


@dataclass
class _User:
    tenant_id: str
    user_id: str
    user_type: str
    joins: int
    leaves: int
    activity: float
    adopts_insights: bool


def _sizes(total: int) -> list[int]:
    """Users per tenant for `total` users, in the proportions of TENANTS (each tenant >= 1)."""
    full = sum(size for _, size in TENANTS)
    return [max(1, round(size * total / full)) for _, size in TENANTS]


def _users(rng: random.Random, days: int = DAYS, total: int | None = None) -> list[_User]:
    users = []
    sizes = _sizes(total) if total else [size for _, size in TENANTS]
    for t, size in enumerate(sizes):
        for n in range(size):
            roll = rng.random()
            user_type = "it_admin" if roll < 0.1 else "advanced_user" if roll < 0.4 else "basic_user"
            joins = 0 if rng.random() < 0.55 else rng.randint(1, max(1, days - 14))  # new users keep arriving
            leaves = days if rng.random() < 0.8 else rng.randint(joins + 7, days + 30)  # some churn
            users.append(
                _User(
                    tenant_id=f"demo-tenant-{t + 1}",
                    user_id=f"demo-user-{t + 1}-{n + 1}",
                    user_type=user_type,
                    joins=joins,
                    leaves=leaves,
                    activity={"it_admin": 0.55, "advanced_user": 0.6, "basic_user": 0.4}[user_type],
                    adopts_insights=rng.random() < (0.9 if user_type == "advanced_user" else 0.6),
                )
            )
    return users


def _day_events(
    user: _User,
    day: date,
    index: int,
    rng: random.Random,
    svc: Services,
    launch_day: int = DAYS - LAUNCH_DAYS_AGO,
) -> list[StoredEvent]:
    pseudonyms = svc.pseudonymizer.current(user.tenant_id, user.user_id)
    events: list[StoredEvent] = []
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
        session = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        moment = datetime.combine(day, time(rng.randint(7, 16), rng.randint(0, 59)), UTC)
        actions: list[tuple[str, str, str | None]] = []
        apps = ["workspace", "docs"] + (["catalog"] if rng.random() < 0.3 else [])
        if user.user_type == "it_admin" or rng.random() < 0.15:
            apps.append("support")
        for app in apps:
            actions.append(("app.launch", app, PAGES[app][0]))
            actions += [("nav.page_view", app, rng.choice(PAGES[app])) for _ in range(rng.randint(1, 4))]
            if app == "workspace" and rng.random() < 0.35:  # the funnel catalogue's case flow
                actions += _steps(
                    rng,
                    app,
                    (
                        ("nav.page_view", "/cases"),
                        ("nav.page_view", "/cases/new"),
                        ("case.submitted", "/cases/new"),
                    ),
                    (0.65, 0.6),
                )
            if app == "catalog" and rng.random() < 0.5:  # ... and its catalogue order flow
                actions += _steps(
                    rng,
                    app,
                    (
                        ("nav.page_view", "/catalog"),
                        ("nav.page_view", "/catalog/order/{id}"),
                        ("catalog.ordered", "/catalog/order/{id}"),
                    ),
                    (0.55, 0.5),
                )
            if app == "support" and rng.random() < 0.3:
                actions.append(("case.submitted", app, "/support/cases"))
            if app == "catalog" and rng.random() < 0.25:
                actions.append(("catalog.ordered", app, "/catalog/{id}"))
        # the launch: adoption of "insights" ramps up over the weeks after the launch day
        ramp = min(0.8, (index - launch_day + 3) / 30)
        if index >= launch_day and user.adopts_insights and rng.random() < ramp:
            actions.append(("nav.page_view", "insights", "/insights"))
            actions += [("feature.used", "insights", "/insights/dashboards")] * rng.randint(3, 6)
        for name, app, page in actions:
            moment += timedelta(seconds=rng.randint(5, 240))
            if moment.date() != day:
                break
            events.append(
                StoredEvent(
                    str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    name,
                    session,
                    moment,
                    moment,
                    app_id(app),  # what ingestion stores: catalogue values only
                    page_template(page),
                    pseudonyms.tenant_ref,
                    user.user_type,
                    pseudonyms.event_pseudonym,
                    pseudonyms.salt_version,
                )
            )
    return events


def _steps(
    rng: random.Random, app: str, steps: tuple[tuple[str, str], ...], onward: tuple[float, ...]
) -> list[tuple[str, str, str | None]]:
    """A funnel's steps in order, each after the first taken with its chance of going on."""
    taken: list[tuple[str, str, str | None]] = [(steps[0][0], app, steps[0][1])]
    for (name, page), chance in zip(steps[1:], onward, strict=True):
        if rng.random() > chance:
            break
        taken.append((name, app, page))
    return taken


def seed_markers(svc: Services, launch: date) -> None:
    """Launch markers as a product team would record them (POST /api/markers): the launch of the
    synthetic "insights" feature, and an earlier one, so every time chart has something to show."""
    markers = svc.markers
    markers.add(
        MarkerFields.model_validate({"date": launch - timedelta(days=28), "text": "Search v2 (demo)"})
    )
    markers.add(
        MarkerFields.model_validate(
            {
                "date": launch,
                "text": "Insights dashboards launched (demo)",
                "feature": "feature.used",
                "app": "insights",
            }
        )
    )


def seed(svc: Services, *, days: int = DAYS, seed_value: int = 12, users_total: int | None = None) -> int:
    """Write `days` days of synthetic traffic ending yesterday, name the tenants, aggregate, then
    seed the notifications and surveys. Returns the number of events written."""
    if os.environ.get("WEBSITE_SITE_NAME") or svc.settings.running_in_azure:
        raise DemoRefused("demo data is local-only and refuses to run in Azure")
    rng = random.Random(seed_value)  # noqa: S311 - synthetic data, reproducible on purpose
    today = svc.clock().date()
    first = today - timedelta(days=days)
    launch_day = days - LAUNCH_DAYS_AGO if days - LAUNCH_DAYS_AGO >= 14 else days // 2  # a short demo too
    users = _users(rng, days, users_total)
    for t, (name, _) in enumerate(TENANTS):
        svc.tenants.name(f"demo-tenant-{t + 1}", TenantName(name=name))
    written = 0
    for index in range(days):
        day = first + timedelta(days=index)
        weekend = day.weekday() >= 5
        for user in users:
            if not (user.joins <= index < user.leaves):
                continue
            if rng.random() > user.activity * (0.15 if weekend else 1.0):
                continue
            events = _day_events(user, day, index, rng, svc, launch_day)
            if events:
                written += keep(svc.tables, events)
    result = svc.aggregation.run()
    svc.funnels.run()
    seed_markers(svc, first + timedelta(days=launch_day))
    surveys = seed_communication(svc, users, rng, launch=first + timedelta(days=launch_day))
    log(
        LOG,
        logging.WARNING,
        "demo.seeded",
        warning="SYNTHETIC DEMO DATA written to the local tables",
        events=written,
        days=len(result.built_days),
        weeks=len(result.built_weeks),
        months=len(result.built_months),
        surveys=surveys,
    )
    return written


NPS_SERIES = "quarterly-nps"
NPS_QUESTION = "How likely are you to recommend Cetegra Workspace to a colleague?"
NPS_SCORES: tuple[tuple[int, ...], ...] = (
    # (weights of the scores 0..10): the quarters improve, so the trend has something to show
    (3, 2, 2, 3, 4, 6, 8, 12, 14, 10, 6),
    (2, 1, 2, 2, 3, 5, 7, 12, 15, 13, 9),
    (1, 1, 1, 2, 2, 4, 6, 11, 15, 16, 12),
)
COMMENTS = ("Search got much faster", "Please add filters to the catalogue", "Dashboards are great")


def seed_communication(svc: Services, users: list[_User], rng: random.Random, *, launch: date) -> int:
    """One notification, three quarterly NPS surveys and a rating survey, answered by the synthetic
    users through the domain (`Notifications` on the same store, pseudonymizer and tenant keys,
    with a clock moved to each answer's moment, since answers are accepted only inside a survey's
    window). Each survey's snapshot is taken by `results`, so the k rule decides what is shown."""
    now = svc.clock()
    moment = {"now": now}
    domain = Notifications(
        svc.tables.notifications,
        svc.pseudonymizer,
        lambda: moment["now"],
        k=svc.settings.aggregate_min_users,
        tenants=svc.tenants,
        cache_seconds=0.0,
        releaser=Releaser(svc.settings.aggregate_min_users, noise=svc.settings.release_noise),
    )

    def publish(fields: ItemFields) -> str:
        moment["now"] = min(fields.starts_at, now)
        item = domain.create(fields)
        domain.update(item.id, ItemPatch.model_validate({"status": "published"}))
        return item.id

    def principal(user: _User) -> Principal:
        return Principal(
            user_id=user.user_id, tenant_id=user.tenant_id, roles=frozenset(), user_type=user.user_type
        )

    nine = datetime.combine(now.date(), time(9), UTC)  # windows open at 09:00 UTC, as an author would
    windows = [(nine - timedelta(days=days), nine - timedelta(days=days - 14)) for days in (190, 100)]
    windows.append((nine - timedelta(days=10), nine + timedelta(days=20)))  # this quarter's: still open
    surveys: list[tuple[str, datetime, datetime, Question, tuple[int, ...]]] = []
    for (starts, ends), weights in zip(windows, NPS_SCORES, strict=True):
        question = Question(type="nps", text=NPS_QUESTION, options=None)
        title = f"Quarterly NPS {starts.year} Q{(starts.month - 1) // 3 + 1} (demo)"
        fields = ItemFields.model_validate(
            dict(
                kind="survey",
                title=title,
                question=question,
                series=NPS_SERIES,
                starts_at=starts,
                ends_at=ends,
            )
        )
        surveys.append((publish(fields), starts, ends, question, weights))
    rating_start = min(datetime.combine(launch + timedelta(days=14), time(9), UTC), nine - timedelta(days=21))
    rating = Question(type="rating", text="How useful are the new Insights dashboards?", options=None)
    rating_fields = ItemFields.model_validate(
        dict(
            kind="survey",
            title="Insights dashboards (demo)",
            question=rating,
            starts_at=rating_start,
            ends_at=rating_start + timedelta(days=21),
        )
    )
    surveys.append((publish(rating_fields), rating_start, rating_fields.ends_at, rating, (1, 2, 6, 10, 7)))
    for item_id, starts, ends, question, weights in surveys:
        values = list(range(len(weights))) if question.type == "nps" else list(range(1, 6))
        last = min(ends, now) - timedelta(minutes=1)
        for user in users:
            if rng.random() > 0.6:
                continue  # not everyone answers
            span = max(1, int((last - starts).total_seconds()))
            moment["now"] = starts + timedelta(seconds=rng.randint(0, span))
            value = rng.choices(values, weights)[0]
            comment = rng.choice(COMMENTS) if rng.random() < 0.15 else None
            domain.answer(principal(user), item_id, SurveyAnswer(value=value, comment=comment))
        moment["now"] = last + timedelta(minutes=1)
        domain.results(item_id, with_comments=False)  # takes the snapshot (if >= k answered)
    # Last, so a notification in the demo's centre means the surveys are done; published by the
    # host's own instance, whose cache of live items this clears.
    notification = svc.notifications.create(
        ItemFields.model_validate(
            dict(
                kind="notification",
                title="New: Insights dashboards (demo)",
                body="Insights shows your team's projects at a glance. SYNTHETIC demo notification.",
                link="/insights",
                priority="high",
                starts_at=now - timedelta(days=2),
                ends_at=now + timedelta(days=30),
            )
        )
    )
    svc.notifications.update(notification.id, ItemPatch.model_validate({"status": "published"}))
    return len(surveys)


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.isdigit() and int(value) > 0 else default


def is_empty(svc: Services) -> bool:
    return not svc.tables.events.days() and not svc.tables.reports.user_day_days()


def seed_in_background() -> threading.Thread | None:
    """The local host's call: seed a fresh local store in a thread (the server is usable meanwhile)."""
    if os.environ.get("WEBSITE_SITE_NAME") or os.environ.get("DEMO_DATA", "1") == "0":
        return None

    def run() -> None:
        svc = services()
        try:
            if is_empty(svc):
                print("Seeding SYNTHETIC demo data for /reports/ (DEMO_DATA=0 turns this off)...", flush=True)
                svc.tables.status.note_demo_seeding(True, svc.clock())  # the report page says so
                started = time_module.monotonic()
                events = seed(
                    svc, days=_env_int("DEMO_DAYS", DAYS), users_total=_env_int("DEMO_USERS", 0) or None
                )
                took = time_module.monotonic() - started
                print(
                    f"Demo data ready: {events} synthetic events, reports built in {took:.0f} s.", flush=True
                )
        except Exception as exc:  # the server keeps running without demo data
            log(LOG, logging.ERROR, "demo.failed", error=type(exc).__name__)
        finally:
            try:
                if svc.tables.status.demo_seeding():
                    svc.tables.status.note_demo_seeding(False, svc.clock())
            except Exception as exc:  # the page then shows the banner until it is reloaded
                log(LOG, logging.ERROR, "demo.status_failed", error=type(exc).__name__)

    thread = threading.Thread(target=run, daemon=True, name="demo-data")
    thread.start()
    return thread


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=DAYS)
    parser.add_argument("--force", action="store_true", help="seed even if tables exist")
    args = parser.parse_args(argv)
    svc = services()
    if not args.force and not is_empty(svc):
        print("tables already hold data: nothing seeded (use --force)")
        return 1
    print(f"{seed(svc, days=args.days)} synthetic events written")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
