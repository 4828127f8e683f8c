"""Author routes (role `Cetegra.Analytics.Author` or the ops role; every call audited like ops
calls): create, list, change, publish and archive items; survey results also for readers."""

from __future__ import annotations

from typing import Any

from functions.edge import ApiRequest, Endpoint, blueprint
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
from shared.privacy.identity import may

bp = blueprint()


def acted_on(request: ApiRequest, result: Any) -> str:
    """The item acted on: the route's, or the one a create made."""
    item_id = request.route.get("id") or (result or {}).get("id")
    return item_target(item_id) if item_id else ""


items = Endpoint(bp, "api/authoring/items", "authoring_items", audited=True)


@items.operation("GET", summary="Every item, newest first", response=ItemList, roles=("author",))
def list_items(request: ApiRequest) -> ItemList:
    return request.services.notifications.items()


@items.operation(
    "POST",
    summary="Create an item (as a draft)",
    body=ItemFields,
    response=ItemView,
    status=201,
    max_body=MAX_AUTHOR_BYTES,
    roles=("author",),
    audit_target=acted_on,
)
def create_item(request: ApiRequest) -> ItemView:
    body: ItemFields = request.body
    return request.services.notifications.create(body)


item = Endpoint(bp, "api/authoring/items/{id}", "authoring_item", audited=True)


@item.operation(
    "GET", summary="One item", response=ItemView, roles=("author",), errors=(404,), audit_target=acted_on
)
def get_item(request: ApiRequest) -> ItemView:
    return request.services.notifications.item(request.route["id"])


@item.operation(
    "PATCH",
    summary="Change an item's fields and/or its status (publish, unpublish, archive)",
    body=ItemPatch,
    response=ItemView,
    max_body=MAX_AUTHOR_BYTES,
    roles=("author",),
    errors=(404,),
    audit_target=acted_on,
)
def update_item(request: ApiRequest) -> ItemView:
    body: ItemPatch = request.body
    return request.services.notifications.update(request.route["id"], body)


results = Endpoint(bp, "api/authoring/items/{id}/results", "authoring_item_results", audited=True)


@results.operation(
    "GET",
    summary="A survey's results under the k rule (comments for authors only)",
    response=SurveyResults,
    roles=("author", "reader"),
    errors=(400, 404),
    audit_target=acted_on,
)
def survey_results(request: ApiRequest) -> SurveyResults:
    author = may(request.user, ("author",), request.services.settings)
    return request.services.notifications.results(request.route["id"], with_comments=author)


reach = Endpoint(bp, "api/authoring/items/{id}/reach", "authoring_item_reach", audited=True)


@reach.operation(
    "GET",
    summary="How far an item got: people delivered, seen, opened, dismissed (surveys: prompted, "
    "answered), per closed UTC day and in total, released once with noise (differential privacy); "
    "small counts hidden, each figure with its 95 % margin of error",
    response=ItemReach,
    roles=("author",),
    errors=(404,),
    audit_target=acted_on,
)
def item_reach(request: ApiRequest) -> ItemReach:
    return request.services.notifications.reach(request.route["id"])


reach_all = Endpoint(bp, "api/authoring/reach", "authoring_reach", audited=True)


@reach_all.operation(
    "GET",
    summary="Every item's released reach totals (small counts hidden, with margins of error)",
    response=ReachList,
    roles=("author",),
)
def every_reach(request: ApiRequest) -> ReachList:
    return request.services.notifications.reach_all()


duplicate = Endpoint(bp, "api/authoring/items/{id}/duplicate", "authoring_item_duplicate", audited=True)


def duplicated(request: ApiRequest, result: Any) -> str:
    """The copy made (the source is in the route)."""
    item_id = (result or {}).get("id")
    return item_target(item_id) if item_id else ""


@duplicate.operation(
    "POST",
    summary="Copy an item as a new draft",
    body=MarkRequest,
    response=ItemView,
    status=201,
    roles=("author",),
    errors=(404,),
    audit_target=duplicated,
)
def duplicate_item(request: ApiRequest) -> ItemView:
    return request.services.notifications.duplicate(request.route["id"])


authoring_settings = Endpoint(bp, "api/authoring/settings", "authoring_settings", audited=True)


@authoring_settings.operation(
    "GET",
    summary="The deployment's survey cadence, k, languages and timings, as authors need them",
    response=AuthoringSettings,
    roles=("author",),
)
def read_settings(request: ApiRequest) -> AuthoringSettings:
    settings = request.services.settings
    return AuthoringSettings(
        cadence=Cadence.of(settings).view(),
        k=settings.aggregate_min_users,
        languages=list(LANGUAGES),
        cache_seconds=int(CACHE_SECONDS),
        snapshot_hours=SNAPSHOT_HOURS,
    )


tenant_directory = Endpoint(bp, "api/authoring/tenants", "authoring_tenants", audited=True)


@tenant_directory.operation(
    "GET",
    summary="The tenant directory's keys and names, to name audiences (no counts)",
    response=TenantDirectory,
    roles=("author",),
)
def list_tenants(request: ApiRequest) -> TenantDirectory:
    return request.services.notifications.tenant_directory()
