"""Thin adapters: each module turns a trigger into a call of domain code in `shared/`."""

from functions import consent, events, health, openapi, ops, reports, timers

BLUEPRINTS = (health.bp, openapi.bp, consent.bp, events.bp, ops.bp, reports.bp, timers.bp)
