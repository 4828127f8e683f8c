"""The reports' margins: a cell's key starts with (tenant, user type), and either may be the
margin `(all)`. (The suppression rule that lived here — keep no child whose margin minus the
shown children gives 1..k-1 people away — is replaced by differentially private releases,
`releases.py`: every margin is a release of its own, so differencing reveals nothing.)
"""

from __future__ import annotations

Key = tuple[str, ...]

MARGIN = "(all)"
"""The placeholder of an exact margin (all tenants, all user types): a report row's `(all)`."""
