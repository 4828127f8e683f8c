"""Daily timers (NCRONTAB, UTC): raw-data expiry just after midnight, then the aggregates.

`use_monitor` keeps the schedule across restarts so a missed run is run late rather than skipped;
the work itself is idempotent and catches up (retention deletes whatever is expired; aggregation
builds every closed day not yet final).
"""

from __future__ import annotations

import logging

import azure.functions as func

from functions.edge import blueprint
from shared.kernel.logs import log
from shared.services import services

LOG = logging.getLogger("cetegra.timers")
RETENTION_SCHEDULE = "0 5 0 * * *"
AGGREGATION_SCHEDULE = "0 30 0 * * *"

bp = blueprint()


@bp.function_name("retention_timer")
@bp.timer_trigger(arg_name="timer", schedule=RETENTION_SCHEDULE, run_on_startup=False, use_monitor=True)
def retention_timer(timer: func.TimerRequest) -> None:
    log(LOG, logging.INFO, "timer.retention", past_due=timer.past_due)
    services().retention.run()


@bp.function_name("aggregation_timer")
@bp.timer_trigger(arg_name="timer", schedule=AGGREGATION_SCHEDULE, run_on_startup=False, use_monitor=True)
def aggregation_timer(timer: func.TimerRequest) -> None:
    log(LOG, logging.INFO, "timer.aggregation", past_due=timer.past_due)
    services().aggregation.run()


FUNNEL_SCHEDULE = "0 50 0 * * *"


@bp.function_name("funnel_timer")
@bp.timer_trigger(arg_name="timer", schedule=FUNNEL_SCHEDULE, run_on_startup=False, use_monitor=True)
def funnel_timer(timer: func.TimerRequest) -> None:
    """After the aggregation: the funnel weeks whose 14 raw days are final (shared/reporting/funnels.py)."""
    log(LOG, logging.INFO, "timer.funnels", past_due=timer.past_due)
    services().funnels.run()
