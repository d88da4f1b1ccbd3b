"""Reading a Prometheus scrape in tests: one sample's value by name and labels."""
import re

import requests

_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def scrape(metrics_url):
    """The text of GET <metrics_url>/metrics (asserting a 200)."""
    resp = requests.get(metrics_url + "/metrics", timeout=10)
    assert resp.status_code == 200, resp.text[:500]
    return resp.text


def sample(text, name, **labels):
    """The sum of the samples called `name` whose labels include `labels` (0 when none)."""
    total = 0.0
    for line in text.splitlines():
        match = _LINE.match(line)
        if not match or match.group(1) != name:
            continue
        found = dict(_LABEL.findall(match.group(3) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(match.group(4))
    return total


def value(metrics_url, name, **labels):
    """One scrape, one figure."""
    return sample(scrape(metrics_url), name, **labels)
