"""Author routes (role `Cetegra.Analytics.Author` or the ops role; every call audited like ops
calls): create, list, change, publish and archive items; survey results also for readers. Every
route is one row of `ROUTES`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from functions.edge import MAX_BODY, ApiRequest, AuditTarget, Endpoint, blueprint
from shared.notifications.cadence import Cadence
from shared.notifications.delivery import CACHE_SECONDS
from shared.notifications.models import (
    LANGUAGES,
    MAX_AUTHOR_BYTES,
    AuthoringSettings,
    ItemFields,
    ItemList,
    ItemPatch,
    ItemReach,
    ItemView,
    MarkRequest,
    ReachList,
    SurveyResults,
    TenantDirectory,
)
from shared.privacy.audit import item_target
from shared.privacy.disclosure import SNAPSHOT_HOURS
from shared.privacy.identity import RoleKind, may

bp = blueprint()


def acted_on(request: ApiRequest, result: Any) -> str:
    """The item acted on: the route's, or the one a create made."""
    item_id = request.route.get("id") or (result or {}).get("id")
    return item_target(item_id) if item_id else ""


def duplicated(request: ApiRequest, result: Any) -> str:
    """The copy made (the audit record's target)."""
    item_id = (result or {}).get("id")
    return item_target(item_id) if item_id else ""


def copied_from(request: ApiRequest, result: Any) -> str:
    """The item a duplicate copies, from the route (the audit record's source)."""
    item_id = request.route.get("id")
    return item_target(item_id) if item_id else ""


def survey_results(request: ApiRequest) -> SurveyResults:
    author = may(request.user, ("author",), request.services.settings)
    return request.services.notifications.results(request.route["id"], with_comments=author)


def read_settings(request: ApiRequest) -> AuthoringSettings:
    settings = request.services.settings
    return AuthoringSettings(
        cadence=Cadence.of(settings).view(),
        k=settings.aggregate_min_users,
        languages=list(LANGUAGES),
        cache_seconds=int(CACHE_SECONDS),
        snapshot_hours=SNAPSHOT_HOURS,
    )


@dataclass(frozen=True)
class AuthoringRoute:
    """One author operation: its method and path under /api/authoring/, what it does, its body and
    answer models, and how the process's services answer it (`shared/notifications/`)."""

    method: str
    path: str
    summary: str
    response: type[BaseModel]
    answer: Callable[[ApiRequest], BaseModel]
    body: type[BaseModel] | None = None
    status: int = 200
    max_body: int = MAX_BODY
    roles: tuple[RoleKind, ...] = ("author",)
    errors: tuple[int, ...] = ()
    audit_target: AuditTarget | None = None
    audit_source: AuditTarget | None = None


ROUTES = (
    AuthoringRoute(
        "GET",
        "items",
        "Every item, newest first",
        ItemList,
        lambda request: request.services.notifications.items(),
    ),
    AuthoringRoute(
        "POST",
        "items",
        "Create an item (as a draft)",
        ItemView,
        lambda request: request.services.notifications.create(request.body),
        body=ItemFields,
        status=201,
        max_body=MAX_AUTHOR_BYTES,
        audit_target=acted_on,
    ),
    AuthoringRoute(
        "GET",
        "items/{id}",
        "One item",
        ItemView,
        lambda request: request.services.notifications.item(request.route["id"]),
        errors=(404,),
        audit_target=acted_on,
    ),
    AuthoringRoute(
        "PATCH",
        "items/{id}",
        "Change an item's fields and/or its status (publish, unpublish, archive)",
        ItemView,
        lambda request: request.services.notifications.update(request.route["id"], request.body),
        body=ItemPatch,
        max_body=MAX_AUTHOR_BYTES,
        errors=(404,),
        audit_target=acted_on,
    ),
    AuthoringRoute(
        "GET",
        "items/{id}/results",
        "A survey's released results: noisy counts, small ones hidden (comments for authors only)",
        SurveyResults,
        survey_results,
        roles=("author", "reader"),
        errors=(400, 404),
        audit_target=acted_on,
    ),
    AuthoringRoute(
        "GET",
        "items/{id}/reach",
        "How far an item got: people delivered, seen, opened, dismissed (surveys: prompted, "
        "answered), per closed UTC day and in total, released once with noise (differential privacy); "
        "small counts hidden, each figure with its 95 % margin of error",
        ItemReach,
        lambda request: request.services.notifications.reach(request.route["id"]),
        errors=(404,),
        audit_target=acted_on,
    ),
    AuthoringRoute(
        "GET",
        "reach",
        "Every item's released reach totals (small counts hidden, with margins of error)",
        ReachList,
        lambda request: request.services.notifications.reach_all(),
    ),
    AuthoringRoute(
        "POST",
        "items/{id}/duplicate",
        "Copy an item as a new draft",
        ItemView,
        lambda request: request.services.notifications.duplicate(request.route["id"]),
        body=MarkRequest,
        status=201,
        errors=(404,),
        audit_target=duplicated,
        audit_source=copied_from,
    ),
    AuthoringRoute(
        "GET",
        "settings",
        "The deployment's survey cadence, k, languages and timings, as authors need them",
        AuthoringSettings,
        read_settings,
    ),
    AuthoringRoute(
        "GET",
        "tenants",
        "The tenant directory's keys and names, to name audiences (no counts)",
        TenantDirectory,
        lambda request: request.services.notifications.tenant_directory(),
    ),
)
"""Every author route, declared once; one Azure Function per path (`authoring_items`,
`authoring_item` for `items/{id}`, `authoring_item_reach`, ...), every call audited."""


def _register(routes: tuple[AuthoringRoute, ...]) -> None:
    endpoints: dict[str, Endpoint] = {}
    for route in routes:
        template = f"api/authoring/{route.path}"
        if template not in endpoints:
            name = "authoring_" + route.path.replace("items/{id}", "item").replace("/", "_")
            endpoints[template] = Endpoint(bp, template, name, audited=True)
        endpoints[template].operation(
            route.method,
            summary=route.summary,
            body=route.body,
            response=route.response,
            status=route.status,
            max_body=route.max_body,
            roles=route.roles,
            errors=route.errors,
            audit_target=route.audit_target,
            audit_source=route.audit_source,
        )(route.answer)


_register(ROUTES)
