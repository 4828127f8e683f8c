"""Command line for the ops routes: erasure, export, retention and aggregation runs, tenant names,
the per-day counts of unlisted pages and apps (to extend the catalogues), and a known user's audit
references (to read the audit table).

    python -m tools.ops --scope api://<app-id>/.default erasure --user-id <oid> --tenant-id <tid> \
        --mode delete
    python -m tools.ops --local-operator export --user-id <oid> --tenant-id <tid> --out subject.json
    python -m tools.ops --scope api://<app-id>/.default tenant-name --tenant-id <tid> --name "Contoso"
    python -m tools.ops --scope api://<app-id>/.default audit-ref --user-id <oid> --tenant-id <tid>

It calls the same HTTP routes as any other client, so the operator role is checked and every
call is audited in one place. In Azure it sends an Entra bearer token (App Service Authentication
turns it into the principal, roles included); against `make run` it can send a local operator
principal, which it refuses to do for any non-loopback URL.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote, urlsplit

OPS_ROLE = "Cetegra.Analytics.Operator"
LOOPBACK = {"localhost", "127.0.0.1", "::1"}


def local_principal(user_id: str) -> str:
    """An operator of Cegal's staff tenant (the local STAFF_TENANT_IDS: the operator role counts
    only there), as Easy Auth would encode it (the testing kit's one encoder)."""
    from testing.principal import STAFF_TENANT_ID, principal_header

    return principal_header(user_id, STAFF_TENANT_ID, roles=(OPS_ROLE,), name=None, long_claims=False)


def auth_headers(args: argparse.Namespace) -> dict[str, str]:
    if args.local_operator:
        if urlsplit(args.url).hostname not in LOOPBACK:
            raise SystemExit("--local-operator only works against the local host (make run)")
        return {"X-MS-CLIENT-PRINCIPAL": local_principal("local-operator")}
    token = args.token or os.environ.get("CETEGRA_OPS_TOKEN")
    if not token and args.scope:
        from azure.identity import DefaultAzureCredential

        token = DefaultAzureCredential().get_token(args.scope).token
    if not token:
        raise SystemExit("give --token, --scope (Entra app scope) or, locally, --local-operator")
    return {"Authorization": f"Bearer {token}"}


def call(
    url: str, path: str, payload: dict[str, Any], headers: dict[str, str], method: str = "POST"
) -> tuple[int, Any]:
    request = urllib.request.Request(  # noqa: S310 — the scheme is the operator's own --url
        url.rstrip("/") + path,
        data=json.dumps(payload).encode(),
        method=method,
        headers={"Content-Type": "application/json", **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=600) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.ops", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default=os.environ.get("CETEGRA_ANALYTICS_URL", "http://localhost:7071"))
    auth = parser.add_mutually_exclusive_group()
    auth.add_argument("--token", help="Entra access token for the app (or CETEGRA_OPS_TOKEN)")
    auth.add_argument("--scope", help="get a token with DefaultAzureCredential, e.g. api://<app-id>/.default")
    auth.add_argument("--local-operator", action="store_true", help="local host only: act as an operator")
    commands = parser.add_subparsers(dest="command", required=True)
    helps = {"audit-ref": "a user's audit references, to find them as actor or subject: in the audit table"}
    for name in ("erasure", "export", "audit-ref"):
        sub = commands.add_parser(name, help=helps.get(name))
        sub.add_argument("--user-id", required=True)
        sub.add_argument("--tenant-id", required=True)
        if name == "erasure":
            sub.add_argument("--mode", required=True, choices=("delete", "unlink"))
        elif name == "export":
            sub.add_argument("--out", help="write the export here instead of standard output")
    commands.add_parser("retention")
    aggregation = commands.add_parser("aggregation")
    aggregation.add_argument("--from", dest="from_")
    aggregation.add_argument("--to")
    unlisted = commands.add_parser("unlisted", help="per day: events with an unlisted page or app")
    unlisted.add_argument("--from", dest="from_", required=True)
    unlisted.add_argument("--to", required=True)
    naming = commands.add_parser("tenant-name", help="name a tenant in the reports' directory")
    naming.add_argument("--tenant-id", required=True)
    naming.add_argument("--name", required=True)
    args = parser.parse_args(argv)

    headers = auth_headers(args)
    if args.command == "erasure":
        path, payload = (
            "/api/ops/erasure",
            {"user_id": args.user_id, "tenant_id": args.tenant_id, "mode": args.mode},
        )
    elif args.command == "export":
        path, payload = "/api/ops/export", {"user_id": args.user_id, "tenant_id": args.tenant_id}
    elif args.command == "audit-ref":
        path = "/api/ops/audit/reference"
        payload = {"user_id": args.user_id, "tenant_id": args.tenant_id}
    elif args.command == "retention":
        path, payload = "/api/ops/retention/run", {}
    elif args.command == "unlisted":
        path, payload = "/api/ops/catalogue/unlisted", {"from": args.from_, "to": args.to}
    elif args.command == "tenant-name":
        path, payload = f"/api/ops/tenants/{quote(args.tenant_id, safe='')}", {"name": args.name}
    else:
        path = "/api/ops/aggregation/run"
        payload = {"from": args.from_, "to": args.to} if args.from_ or args.to else {}
    method = "PUT" if args.command == "tenant-name" else "POST"
    status, body = call(args.url, path, payload, headers, method)
    text = json.dumps(body, indent=2)
    if args.command == "export" and args.out and 200 <= status < 300:
        with open(args.out, "w", encoding="utf-8") as out:  # noqa: PTH123
            out.write(text + "\n")
        print(f"export written to {args.out} ({len(body.get('events', []))} events)")
    else:
        print(text)
    return 0 if 200 <= status < 300 else 1


if __name__ == "__main__":
    sys.exit(main())
