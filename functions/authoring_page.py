"""The authoring page (`/authoring/`): static files of `client/authoring/`, under the report page's
strict CSP and headers.

Authors write, preview, schedule, publish and archive notifications and surveys here instead of
sending JSON by hand. The page holds no data: every item, reach figure and result comes from the
`/api/authoring/*` routes, which check the author (or operator) role and audit each call; Easy
Auth guards this route like any other in Azure. As for the report page, this adapter maps a path
to one of a closed set of files (`index.html` and the committed bundle in `dist/`) and sends them
with headers under which item text can never run as code (Trusted Types: no HTML sinks at all).
"""

from __future__ import annotations

from pathlib import Path

from functions.edge import blueprint
from functions.reports_page import StaticPage

bp = blueprint()

PAGE_DIR = Path(__file__).resolve().parent.parent / "client" / "authoring"
PAGE = StaticPage(PAGE_DIR, "the authoring page", "authoring/")
ROUTE = PAGE.route
serve = PAGE.serve
PAGE.register(bp, "authoring_page")
