"""The import graph the testing kit exists for: benchmarks, tools and the kit never import the test
suite, and the kit (not `tests/`) is where shared test code lives. And the disclosure seam: no code
in shared/ or functions/ outside shared/privacy/disclosure/ compares a count with k."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def imports_of(source: str, module: str) -> set[str]:
    """Every module `module` (dotted, `pkg.__init__` for a package) imports, anywhere in its body:
    `import a.b` gives `a.b`; `from a import b` gives `a` and `a.b` (b may be a module, as in
    `from shared import services`); a relative import is resolved against `module`'s package."""
    names: set[str] = set()
    package = module.split(".")[:-1]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            stem = ".".join([*base, *([node.module] if node.module else [])])
            if stem:
                names.add(stem)
            names.update(f"{stem}.{alias.name}" if stem else alias.name for alias in node.names)
    return names


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def imported_modules(path: Path) -> set[str]:
    return imports_of(path.read_text(), module_name(path))


@pytest.mark.parametrize("package", ["bench", "tools", "testing", "shared", "functions"])
def test_nothing_outside_tests_imports_the_test_suite(package):
    for path in sorted((ROOT / package).rglob("*.py")):
        offending = {name for name in imported_modules(path) if name == "tests" or name.startswith("tests.")}
        assert not offending, f"{path.relative_to(ROOT)} imports {offending}"


def test_the_test_suite_shares_code_only_through_the_kit():
    """conftest takes its fixtures from `testing.fixtures` and reaches the local host only through
    the kit; test modules import no other test module's helpers from conftest."""
    assert imported_modules(ROOT / "tests" / "conftest.py") & {"tools.localhost", "testing.azurite"} == set()
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        assert "tests.conftest" not in imported_modules(path), path.name


def test_one_principal_encoder():
    """Only testing/principal.py builds an Easy Auth principal (base64 JSON of claims)."""
    for package in ("bench", "tools", "testing", "tests"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if path.name == "principal.py" or path.parent.name == "tests":
                continue
            assert "b64encode" not in path.read_text(), f"{path.relative_to(ROOT)} encodes a principal"


# ---- disclosure: only shared/privacy/disclosure/ compares a count with k ---------------------------

DISCLOSURE = ROOT / "shared" / "privacy" / "disclosure"
_K = r"(?:[A-Za-z_]\w*\.)*(?:_?k|\w*min_users)\b"
"""k as the code names it: `k`, `self._k`, `settings.aggregate_min_users`, ..."""
_ORDER = r"(?:<|>)=?"
"""`<`, `<=`, `>`, `>=` (the lookarounds below keep out `->`, `<<`, `>>`)."""
K_RULE = re.compile(
    rf"(?<![-<>]){_ORDER}\s*{_K}"  # n >= k, 0 < n < k, changed < self._k
    rf"|(?<![\w.]){_K}\s*{_ORDER}(?![<>])"  # k <= n, settings.aggregate_min_users > n
    r"|\bdef\s+\w*publishable\w*\s*\("  # a k rule of its own: def publishable(self, k)
)


def code_lines(source: str) -> list[str]:
    """The source's lines with every comment and string literal (docstrings too) blanked out, so
    prose like "0 or >= k" never counts, while code inside an f-string's braces still does."""
    lines = [list(line) for line in source.splitlines()]
    literal = {tokenize.COMMENT, tokenize.STRING, getattr(tokenize, "FSTRING_MIDDLE", tokenize.STRING)}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in literal:
            continue
        (first, start), (last, end) = token.start, token.end
        for row in range(first, last + 1):
            chars = lines[row - 1]
            left = start if row == first else 0
            right = end if row == last else len(chars)
            chars[left:right] = " " * (right - left)
    return ["".join(chars) for chars in lines]


def k_comparisons(source: str) -> list[tuple[int, str]]:
    """(line number, line) of every comparison of a count with k in `source`."""
    lines = enumerate(code_lines(source), 1)
    return [(number, line.strip()) for number, line in lines if K_RULE.search(line)]


@pytest.mark.parametrize(
    "line",
    [  # k rules as they once stood in shared/, outside the package
        "        return self.people == 0 or self.people >= k",
        "    def publishable(self, k: int) -> bool:",
        "    kept = {key for key, members in users.items() if len(members) >= k}",
        "                    if not (0 < by_sets < k or 0 < by_counts < k):",
        "    other = sum(n for n in counts.values() if n < k)",
        "    while 0 < other < k and shown:",
        "        bad = sorted(b for b, n in remainder.items() if 0 < n < k)",
        "    return all(n >= k for n in counts.values())",
        "    if len(answers) < k:",
        "    if all(n >= k and tenant in tenants and user_type in types for (tenant, user_type), n in x):",
        "            if changed < self._k or now - snapshot.taken_at < timedelta(hours=SNAPSHOT_HOURS):",
        "    if settings.aggregate_min_users > len(users):",
        "    if k <= n:",
        '    text = f"{n >= k}"',
    ],
)
def test_the_k_rule_pattern_catches_every_old_site(line):
    assert k_comparisons(line + "\n"), line


@pytest.mark.parametrize(
    "line",
    [
        '    """Null unless every cell of this breakdown has each NPS group at 0 or >= k people."""',
        "    x = 1  # a kept cell shows 0 people or >= k",
        "    def build(self, rows: list[int], k: int) -> list[int]:",
        "        self._reports = ReportBuilder(reports, settings.aggregate_min_users)",
        "        return Report(k=self._k, rows=kept)",
        "    if kept > keys[key] or n >> k_max:",
        '    LINE = r"^[^\\x00-\\x1f\\x7f]*$"',
    ],
)
def test_the_k_rule_pattern_ignores_prose_and_plain_uses_of_k(line):
    assert not k_comparisons(line + "\n"), line


def test_only_the_disclosure_package_compares_a_count_with_k():
    """Every published number goes through shared/privacy/disclosure/ (its docstring says why):
    a report, survey or aggregate that compared a count with k itself would be a fourth rule that
    the differentially private releases would miss. Call the package instead."""
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line}"
        for package in ("shared", "functions")
        for path in sorted((ROOT / package).rglob("*.py"))
        if DISCLOSURE not in path.parents
        for number, line in k_comparisons(path.read_text())
    ]
    assert not offenders, "compares a count with k outside the disclosure package:\n" + "\n".join(offenders)


# ---- the house: imports run one way ------------------------------------------------------------

FLOORS: tuple[tuple[str, int], ...] = (
    ("shared.kernel", 0),
    ("shared.storage", 1),
    ("shared.privacy", 2),
    ("shared.ingestion", 3),
    ("shared.reporting", 3),
    ("shared.notifications", 3),
    ("shared.lifecycle", 4),
    ("shared.services", 5),
    ("shared.health", 5),
    ("functions", 6),
    ("function_app", 6),
    ("testing", 7),
    ("tools", 8),
    ("bench", 8),
)
"""kernel ← storage ← privacy ← capabilities (ingestion, reporting, notifications) ← lifecycle ←
composition root (services, health) ← functions ← testing ← tools and benchmarks: a module
imports only from its own floor or below, and the capabilities on floor 3 do not import each
other (docs/architecture.md)."""


def room(module: str) -> tuple[str, int] | None:
    """The folder (package prefix) and floor a project module belongs to; None for a library."""
    for prefix, floor in FLOORS:
        if module == prefix or module.startswith(prefix + "."):
            return prefix, floor
    return None


def project_modules() -> list[tuple[str, Path]]:
    found = []
    for package in ("shared", "functions", "testing", "tools", "bench"):
        for path in sorted((ROOT / package).rglob("*.py")):
            found.append((module_name(path), path))
    found.append(("function_app", ROOT / "function_app.py"))
    return found


def test_every_module_of_shared_lives_in_a_room():
    """`shared/` holds the kernel, storage, privacy, the three capabilities, lifecycle and the
    composition root; no loose module beside them."""
    loose = [
        module
        for module, _ in project_modules()
        if module.startswith("shared.") and module != "shared.__init__" and room(module) is None
    ]
    assert loose == []


def wrong_imports(module: str, names: set[str]) -> list[str]:
    """The imports of `module` that break the house rule: one to a higher floor, or one from a
    capability on floor 3 to another."""
    own = room(module)
    if own is None:
        return []
    wrong = []
    for name in sorted(names):
        target = room(name)
        if target is None:
            continue
        if target[1] > own[1]:
            wrong.append(f"{module} (floor {own[1]}) imports {name} (floor {target[1]})")
        elif target[1] == own[1] == 3 and target[0] != own[0]:
            wrong.append(f"{module} imports the capability {name}: they meet in lifecycle or services")
    return wrong


def test_imports_run_one_way():
    modules = project_modules()
    wrong = [line for module, path in modules for line in wrong_imports(module, imported_modules(path))]
    assert wrong == []


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("shared.storage.markers", "from shared.privacy.tenants import Tenants"),
        ("shared.storage.markers", "from shared import services"),
        ("shared.kernel.periods", "import shared.storage.core"),
        ("shared.reporting.markers", "from shared.notifications import cadence"),
        ("shared.reporting.markers", "from ..notifications.cadence import Cadence"),
        ("shared.notifications.reach", "def f():\n    from shared.reporting.funnels import MODES\n"),
        ("shared.privacy.disclosure.funnels", "from ...reporting import cells"),
        ("shared.lifecycle.erasure", "from shared.services import build"),
        ("shared.services", "from functions.edge import ENDPOINTS"),
        ("functions.reports", "from testing.host import Router"),
        ("testing.clock", "from tools import ops"),
    ],
)
def test_the_import_rule_reports_a_wrong_way_import(module, source):
    """The rule itself, on made-up sources: an import to a higher floor, or from one capability to
    another, is reported however it is spelled (absolute, `from package import module`, relative,
    inside a function), so a green run means something."""
    assert wrong_imports(module, imports_of(source, module)), source


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("shared.storage.markers", "from shared.storage.core import Entity, Storage"),
        ("shared.reporting.markers", "from .cells import ALL\nfrom shared.privacy import tenants"),
        ("shared.lifecycle.erasure", "from shared.notifications.holder import NotificationState"),
        ("tools.localhost.server", "from testing import server"),
        ("shared.privacy.disclosure.funnels", "from . import releases"),
    ],
)
def test_the_import_rule_accepts_imports_downwards(module, source):
    assert wrong_imports(module, imports_of(source, module)) == [], source


def test_a_module_is_in_the_room_of_its_folder():
    """Each folder maps to its floor; a library is in no room (its imports are not checked)."""
    assert room("shared.storage.events") == ("shared.storage", 1)
    assert room("shared.privacy.consent") == ("shared.privacy", 2)
    assert room("shared.reporting.build") == ("shared.reporting", 3)
    assert room("shared.notifications.results") == ("shared.notifications", 3)
    assert room("azure.data.tables") is None
