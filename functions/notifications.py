"""User routes of notifications and surveys: the caller's pending items, seen, dismiss, answer.

Product communication, not analytics (shared/notifications/delivery.py): consent is not consulted and
no usage event is written.
"""

from __future__ import annotations

from functions.edge import ApiRequest, Endpoint, Reply, blueprint
from shared.notifications.cadence import Cadence
from shared.notifications.models import (
    MAX_ANSWER_BYTES,
    MarkRequest,
    PendingList,
    PendingQuery,
    SurveyAnswer,
)

bp = blueprint()

pending = Endpoint(bp, "api/notifications", "notifications")


@pending.operation(
    "GET",
    summary="The caller's pending notifications and surveys",
    response=PendingList,
    query=PendingQuery,
)
def list_pending(request: ApiRequest) -> PendingList:
    query: PendingQuery = request.query
    return request.services.notifications.pending(
        request.user, query.app or None, query.lang, cadence=Cadence.of(request.services.settings)
    )


seen = Endpoint(bp, "api/notifications/{id}/seen", "notifications_seen")


@seen.operation(
    "POST", summary="Mark an item as shown to the caller", body=MarkRequest, status=204, errors=(404,)
)
def mark_seen(request: ApiRequest) -> Reply:
    request.services.notifications.mark(request.user, request.route["id"], "seen")
    return Reply(204, None)


dismiss = Endpoint(bp, "api/notifications/{id}/dismiss", "notifications_dismiss")


@dismiss.operation(
    "POST", summary="Dismiss an item: it is not shown again", body=MarkRequest, status=204, errors=(404,)
)
def mark_dismissed(request: ApiRequest) -> Reply:
    request.services.notifications.mark(request.user, request.route["id"], "dismiss")
    return Reply(204, None)


opened = Endpoint(bp, "api/notifications/{id}/opened", "notifications_opened")


@opened.operation(
    "POST",
    summary="Report that the caller opened the item's link (reach: link opened)",
    body=MarkRequest,
    status=204,
    errors=(404,),
)
def mark_opened(request: ApiRequest) -> Reply:
    request.services.notifications.mark(request.user, request.route["id"], "opened")
    return Reply(204, None)


answer = Endpoint(bp, "api/notifications/{id}/answer", "notifications_answer")


@answer.operation(
    "POST",
    summary="Answer a survey (a second answer replaces the first; at most 2 surveys a calendar month)",
    body=SurveyAnswer,
    status=204,
    max_body=MAX_ANSWER_BYTES,
    errors=(404, 409),
)
def answer_survey(request: ApiRequest) -> Reply:
    body: SurveyAnswer = request.body
    request.services.notifications.answer(request.user, request.route["id"], body)
    return Reply(204, None)
