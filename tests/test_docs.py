"""The Python examples in the README and docs/ run as written; the site's pages hang together.

Each ```python block runs in a fresh namespace, in a scratch directory, after
PRELUDE: the context the prose around a fragment gives it (a ``policy``, an
``alert``, a traffic file ``day.csv.gz``, ...). Blocks that stand for an
adapter's own code or reach outside the machine are listed in SKIP, with the
reason.

The documentation site (``mkdocs build --strict`` in CI) fails on a page left
out of the nav or a link to a missing file; the last two tests say so here
first, without mkdocs installed.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import pytest
import redis

import alertthrottle

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
#: Every page of the site (docs/_ext holds build code, not pages).
SITE_PAGES = sorted(p for p in DOCS.rglob("*.md") if "_ext" not in p.relative_to(DOCS).parts)
PAGES = [ROOT / "README.md", *SITE_PAGES]
BLOCK = re.compile(r"```python\n(.*?)```", re.S)
#: Markdown inline links and images: [text](target) / ![alt](target).
LINK = re.compile(r"\]\(([^)\s]+)\)")
#: A page named in mkdocs.yml's nav: "- Title: path.md" or "- path.md".
NAV_ENTRY = re.compile(r"^\s*-\s+(?:[^:\n]+:\s+)?([\w./-]+\.md)\s*$", re.M)
#: (page, block index) -> why it is not run.
SKIP = {
    ("quickstart.md", 0): "an adapter's callback: notify_operations() and forward() are theirs",
    ("quickstart.md", 3): "an interactive session showing tracebacks",
    ("testing.md", 0): "MyAdapterPolicy is the reader's own class",
    ("operations.md", 2): "sends mail through the operator's SMTP server (tests/test_digest.py "
    "sends one to a local server)",
}
#: Absolute paths in the docs, mapped into the scratch directory.
REWRITE = {"/var/lib/adapter/": ""}
#: The Redis server the docs' examples name: the test run's own (tests/redis_helpers.py).
REDIS_URL = "redis://localhost:6379/0"

PRELUDE = r"""
from alertthrottle import *
config = policy_config = PolicyConfig(default=Threshold(limit=3, period=60))
new_config = tighter = PolicyConfig(default=Threshold(limit=2, period=60))
relaxed = PolicyConfig(default=Threshold(limit=3, period=60), exempt_codes={"8F75"})
policy = ThrottlePolicy(config)
alerts = [
    Alert(timestamp=1_699_999_000 + i, device_id="00-0D-6F-00-0A-BC-12-34", code="8014",
          recipients=("NPG",))
    for i in range(10)
]
alert = alerts[0]
events = [e for d in ThrottlePolicy(config).feed_many(alerts) for e in d.events]
registry = {"00-0D-6F-00-0A-BC-12-34": DeviceInfo(manufacturer="Acme", model="M1")}
notify = raise_ticket = close_ticket = update_ticket = lambda *args: None
import gzip
with gzip.open("day.csv.gz", "wt") as out:
    write_traffic(alerts, out)
open("devices.csv", "w").write("device_id,manufacturer,model,firmware\n"
                               "00-0D-6F-00-0A-BC-12-34,Acme,M1,1.0\n")
open("mine.toml", "w").write('name = "mine"\n[default]\nlimit = 5\nperiod = 3600\n')
open("hourly.toml", "w").write('name = "hourly"\n[default]\nlimit = 10\nperiod = 3600\n')
"""


def blocks() -> list[tuple[str, int, str]]:
    found = []
    for page in PAGES:
        for index, match in enumerate(BLOCK.finditer(page.read_text())):
            name = page.relative_to(DOCS).as_posix() if page.is_relative_to(DOCS) else page.name
            found.append((name, index, match.group(1)))
    return found


@pytest.mark.parametrize(
    ("page", "index", "code"), blocks(), ids=[f"{p}:{i}" for p, i, _ in blocks()]
)
def test_example_runs(page, index, code, tmp_path, monkeypatch, capsys, request):
    if (page, index) in SKIP:
        pytest.skip(SKIP[page, index])
    monkeypatch.chdir(tmp_path)
    for old, new in REWRITE.items():
        code = code.replace(old, new)
    if REDIS_URL in code:
        server = request.getfixturevalue("redis_server")
        code = code.replace(REDIS_URL, server.url)
        redis.Redis(port=server.port).flushdb()
    namespace: dict[str, object] = {}
    exec(PRELUDE, namespace)
    exec(compile(code, f"{page}[{index}]", "exec"), namespace)


def test_every_page_is_in_the_nav_and_every_nav_entry_exists():
    nav = set(NAV_ENTRY.findall((ROOT / "mkdocs.yml").read_text()))
    pages = {p.relative_to(DOCS).as_posix() for p in SITE_PAGES}
    assert not pages - nav, f"pages missing from mkdocs.yml's nav: {sorted(pages - nav)}"
    assert not nav - pages, f"mkdocs.yml's nav names missing pages: {sorted(nav - pages)}"


@pytest.mark.parametrize("page", SITE_PAGES, ids=lambda p: p.relative_to(DOCS).as_posix())
def test_relative_links_reach_files_of_the_site(page):
    for target in LINK.findall(page.read_text()):
        if re.match(r"[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # a URL (https:, mailto:) or an anchor on the same page
        path = (page.parent / target.split("#")[0]).resolve()
        assert path.is_relative_to(DOCS), f"{target}: leaves docs/ (the site cannot link it)"
        assert path.exists(), f"{target}: no such file"


#: The public modules (no leading underscore; the CLI is a program, not an API): the
#: generated reference (docs/reference/) renders each one.
PUBLIC_MODULES = ["alertthrottle"] + [
    f"alertthrottle.{module.name}"
    for module in pkgutil.iter_modules(alertthrottle.__path__)
    if not module.name.startswith("_") and module.name != "cli"
]


@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_the_api_guide_names_every_public_name(module):
    # The generated reference lists every name by itself; the guide must not fall behind it.
    guide = (DOCS / "api.md").read_text()
    names = importlib.import_module(module).__all__
    missing = [name for name in names if not re.search(rf"\b{re.escape(name)}\b", guide)]
    assert not missing, f"docs/api.md does not mention {module}.{missing}"


@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_the_generated_reference_renders_every_public_module(module):
    rendered = "\n".join(p.read_text() for p in (DOCS / "reference").glob("*.md"))
    assert re.search(rf"^::: {re.escape(module)}$", rendered, re.M), f"no ::: {module} page"
