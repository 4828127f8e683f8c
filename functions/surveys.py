"""`GET /api/reports/surveys`: the survey results and NPS trends for readers of the report page.

Results for authors and readers: per survey, the number of answers, the distribution and the
NPS, as differentially private releases (at most 4 scheduled snapshots per survey, small counts
hidden, each figure with its 95 % margin; docs/privacy-model.md); repeated surveys of a series
give an NPS trend. The product teams find surveys here (the results route needs an item id they
cannot otherwise see); comments are left out: they are for authors only.
"""

from __future__ import annotations

from functions.edge import ApiRequest, Endpoint, blueprint
from shared.notifications.models import SurveyReport

bp = blueprint()

surveys = Endpoint(bp, "api/reports/surveys", "reports_surveys")


@surveys.operation(
    "GET",
    summary="Every published survey with its released results, and each series' NPS trend",
    response=SurveyReport,
    roles=("reader", "author"),
)
def list_surveys(request: ApiRequest) -> SurveyReport:
    return request.services.notifications.survey_report()
