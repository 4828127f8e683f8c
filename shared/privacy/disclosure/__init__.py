"""Disclosure control: the one place that decides which counts of people may be published.

Why: the privacy texts promise that aggregated usage statistics are kept "with no link to
individual users" (Cookie Policy, 4. Analytics technology) and that, without a user identifier,
"individual events cannot be linked back to you" (Privacy at a Glance). A published count of one
person, or a difference of published figures that singles one person out, would be such a link.
So every published number goes through this package. The reports' numbers are differentially
private releases (`releases`, docs/privacy-model.md): OpenDP's discrete Gaussian over a key
domain fixed before the data is read, each person's contribution clipped, one accounted budget
per person and calendar month, a cell under the threshold shown as hidden. The older threshold
rules (no published count of people in 1..k-1, k = `AGGREGATE_MIN_USERS`) guard only what is
not published: the internal aggregate tables and the labels of survey comments (which authors
read as text):

* `releases` — the differentially private releases, the monthly budget (`BUDGET`,
  `monthly_budget`) and the exact mode of the test kit (`Releaser(noise=False)`).
* `cells` — the aggregates' cells (overlapping sets of pseudonyms, multi-part keys): a cell under
  k folds into coarser cells, a last remainder under k is suppressed (`Cell`, `fold_cells`).
* `margins` — the `(all)` margin of the report keys.
* `funnels`, `reach` — the funnel steps and the notification reach, released (`releases`).
* `buckets` — the survey comments' labels (`fold_buckets`, `comment_labels`): comments are
  outside the releases.
* `surveys` — survey results as releases: the scheduled snapshots (`MAX_SNAPSHOTS`,
  `SNAPSHOT_HOURS`), the release of a survey's histograms and what is shown of them.

Callers (`shared.reporting.aggregates`, `shared.reporting.build`,
`shared.notifications.results`) never compare a count with k themselves; `tests/test_layout.py`
fails on any such comparison outside this package. A new report calls these functions.
"""

from shared.privacy.disclosure import surveys
from shared.privacy.disclosure.buckets import LabelMode, comment_labels, fold_buckets
from shared.privacy.disclosure.cells import Cell, fold_cells
from shared.privacy.disclosure.margins import MARGIN
from shared.privacy.disclosure.surveys import MAX_SNAPSHOTS, SNAPSHOT_HOURS

__all__ = [
    "MARGIN",
    "MAX_SNAPSHOTS",
    "SNAPSHOT_HOURS",
    "Cell",
    "LabelMode",
    "comment_labels",
    "fold_buckets",
    "fold_cells",
    "surveys",
]
