"""The README's "From limits to invoices" example, run verbatim against `make run`'s demo data (a checkout-like
directory and a live server, as the tour's test builds them): the demo's Hooli has seed 004's $1.44 of GPU overage
on its upcoming invoice."""

from __future__ import annotations

import re

from e2e.test_readme_tour import README, blocks, checkout, run  # noqa: F401 - the checkout fixture

STEP = "### From limits to invoices"


def test_the_limits_to_invoices_example_runs_on_the_demo(checkout):  # noqa: F811
    section = README.read_text().split(STEP, 1)[1].split("\n## ", 1)[0]
    [step] = re.findall(r"```bash\n(.*?)```", section, re.S)
    out = run(checkout, [blocks("A 5-minute tour")[0], step])[1]
    assert out.strip().splitlines() == ["gpu_compute overage (gpu_second) 3600 1.44"]
