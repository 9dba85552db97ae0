"""The Python examples in the README and docs/ run as written.

Each ```python block runs in a fresh namespace, in a scratch directory, after
PRELUDE: the context the prose around a fragment gives it (a ``policy``, an
``alert``, a traffic file ``day.csv.gz``, ...). Blocks that stand for an
adapter's own code or reach outside the machine are listed in SKIP, with the
reason.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"```python\n(.*?)```", re.S)
#: (page, block index) -> why it is not run.
SKIP = {
    ("quickstart.md", 0): "an adapter's callback: notify_operations() and forward() are theirs",
    ("quickstart.md", 1): "an interactive session showing tracebacks",
    ("testing.md", 0): "MyAdapterPolicy is the reader's own class",
    ("operations.md", 2): "sends mail through the operator's SMTP server (tests/test_digest.py "
    "sends one to a local server)",
}
#: Absolute paths in the docs, mapped into the scratch directory.
REWRITE = {"/var/lib/adapter/": ""}

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
            found.append((page.name, index, match.group(1)))
    return found


@pytest.mark.parametrize(
    ("page", "index", "code"), blocks(), ids=[f"{p}:{i}" for p, i, _ in blocks()]
)
def test_example_runs(page, index, code, tmp_path, monkeypatch, capsys):
    if (page, index) in SKIP:
        pytest.skip(SKIP[page, index])
    monkeypatch.chdir(tmp_path)
    for old, new in REWRITE.items():
        code = code.replace(old, new)
    namespace: dict[str, object] = {}
    exec(PRELUDE, namespace)
    exec(compile(code, f"{page}[{index}]", "exec"), namespace)
