"""Author routes (role `Cetegra.Analytics.Author` or the ops role; every call audited like ops
calls): create, list, change, publish and archive items; survey results also for readers."""

from __future__ import annotations

from typing import Any

from functions.edge import ApiRequest, Endpoint, blueprint
from shared.notifications.models import (
    MAX_AUTHOR_BYTES,
    ItemFields,
    ItemList,
    ItemPatch,
    ItemView,
    SurveyResults,
)
from shared.privacy.audit import item_target
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
