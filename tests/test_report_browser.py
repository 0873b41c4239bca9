"""loomgit's HTML pages in a real headless Chromium (tests/browser.py drives it over the
DevTools pipe): screenshots at a desktop and a phone width, the layout measured by the
browser (nothing spilling out, cut or overlapping, text large enough), accessibility
basics (headers, labels, contrast), the review table with scripts disabled, the search,
and the overview's charts (the axis, the bars, the points, the labels).

Skipped, saying why, when Chromium is not installed (.ci/test installs it). Set
LOOMGIT_SCREENSHOTS=DIR to keep the screenshots for a person to look at.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import Browser, Page, accessibility_problems, find_chromium, layout_problems
from viewer_data import compare_result

from loomgit.report.html import render_html
from loomgit.report.review import review_html

pytestmark = pytest.mark.skipif(
    find_chromium() is None, reason="chromium is not installed (apt-get install -y chromium)"
)

WIDTHS = {"desktop": (1280, 900), "narrow": (390, 844)}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with Browser() as b:
        yield b


@pytest.fixture(scope="module")
def review_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("review") / "review.html"
    data = compare_result(60, models=("openai/gpt-4o-mini", "anthropic/claude-haiku"))
    path.write_text(review_html([("cmp.json", data)], generated_at="2026-12-07 10:00 UTC"))
    return path


def _keep(png: Path) -> None:
    keep = os.environ.get("LOOMGIT_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(png, Path(keep) / png.name)


def _png_size(png: Path) -> tuple[int, int]:
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _lay_out_everything(page: Page) -> None:
    """Cells far off screen are laid out only when they come near (content-visibility):
    lay them all out, so the measurements cover every cell, not only the first screen."""
    page.evaluate(
        "(() => { const s = document.createElement('style');"
        " s.textContent = '.cv { content-visibility: visible !important; }';"
        " document.head.appendChild(s); })()"
    )


def _shown_rows(page: Page) -> int:
    n: int = page.evaluate(
        "[...document.querySelectorAll('tbody tr')].filter(r => r.getClientRects().length).length"
    )
    return n


# -- the review page ---------------------------------------------------------------------


@pytest.mark.parametrize("size", sorted(WIDTHS))
def test_the_review_page_lays_out_and_reads_well(
    browser: Browser, review_file: Path, tmp_path: Path, size: str
) -> None:
    width, height = WIDTHS[size]
    page = browser.open(review_file, width=width, height=height)
    _lay_out_everything(page)
    png = page.screenshot(tmp_path / f"review-{size}.png")
    _keep(png)
    w, h = _png_size(png)
    assert w == width and h > height  # the whole page, taller than one screen
    assert len(png.read_bytes()) > 60_000  # not a blank page
    assert layout_problems(page) == []
    assert accessibility_problems(page) == []
    # every case is a row with its header cell, every answer cell names its column
    assert _shown_rows(page) == 60
    assert page.evaluate("document.querySelectorAll('tbody th[scope=row]').length") == 60
    if size == "narrow":
        # one case per card: its cells one under the other, each as wide as the card
        geometry = page.evaluate(
            "(() => { const r = document.querySelector('tbody tr');"
            " const box = r.getBoundingClientRect();"
            " return [...r.children].map(c => { const b = c.getBoundingClientRect();"
            " return [b.left - box.left, box.right - b.right, b.top]; }); })()"
        )
        assert all(abs(left) < 2 and abs(right) < 2 for left, right, _ in geometry)
        tops = [top for _, _, top in geometry]
        assert tops == sorted(tops) and len(set(tops)) == len(tops)
    page.close()


def test_the_review_table_works_with_scripts_disabled(browser: Browser, review_file: Path) -> None:
    page = browser.open(review_file, width=1280, height=900, scripts=False)
    # the page's script did not run (the search box stays hidden), the table is all there
    assert page.evaluate("document.getElementById('q').hidden") is True
    assert _shown_rows(page) == 60
    highlighted = page.evaluate("document.querySelectorAll('td.k-regression').length")
    assert highlighted > 0
    assert page.evaluate("document.querySelectorAll('ins').length") > 0
    # "changed only" is a checkbox and CSS: clicking its label hides the unchanged rows
    same = page.evaluate("document.querySelectorAll('tbody tr.k-same').length")
    assert 0 < same < 60
    page.evaluate("document.querySelector('label[for=only-changed]').click()")
    assert _shown_rows(page) == 60 - same
    page.evaluate("document.querySelector('label[for=only-changed]').click()")
    assert _shown_rows(page) == 60
    page.close()


def test_search_keeps_the_rows_that_hold_every_word(browser: Browser, review_file: Path) -> None:
    page = browser.open(review_file, width=1280, height=900)
    assert page.evaluate("document.getElementById('q').hidden") is False  # the CSP let it run
    page.evaluate(
        "(() => { const q = document.getElementById('q'); q.value = 'ticket-00007 urgently';"
        " q.dispatchEvent(new Event('input')); })()"
    )
    page.evaluate("new Promise(r => setTimeout(r, 400))")
    assert _shown_rows(page) == 1
    assert page.evaluate("document.getElementById('q-count').textContent") == (
        "1 of 60 cases match"
    )
    page.evaluate(
        "(() => { const q = document.getElementById('q'); q.value = '';"
        " q.dispatchEvent(new Event('input')); })()"
    )
    page.evaluate("new Promise(r => setTimeout(r, 400))")
    assert _shown_rows(page) == 60
    page.close()


# -- the overview ------------------------------------------------------------------------


def _overview() -> dict[str, object]:
    """What a user saw: sub-millisecond latencies (the echo model), tiny costs, long
    version labels, pass rate and score equal on every version."""
    names = ["1.0.0", "1.1.0", "2.0.0-rc.1+build.20261207", "2.0.0-release-candidate-2"]
    names += [f"2.{i}.0" for i in range(1, 9)]
    versions = []
    for i, name in enumerate(names):
        versions.append(
            {
                "version": name,
                "bump": ["initial", "minor", "major", "patch"][min(i, 3)],
                "commit": f"{i:040x}",
                "date": "2026-12-01T00:00:00",
                "subject": "a subject",
                "stages": ["production"]
                if i == len(names) - 2
                else ["staging"]
                if i == len(names) - 1
                else [],
                "runs": {
                    "runs": 1,
                    "records": 10,
                    "pass_rate": 1.0 if i != 2 else 0.5,
                    "mean_score": 1.0 if i != 2 else 0.5,
                    "cost_usd": 0.0000004 * (i + 1),
                    "latency_ms": [0.004, 0.006, 0.01, 0.003][i % 4],
                    "models": ["echo/echo"],
                },
            }
        )
    return {
        "title": "loomgit report",
        "generated_at": "2026-12-07 10:00 UTC",
        "root": "/repo",
        "prompts": [
            {"id": "support/summarize", "stages": {"staging": "2.8.0"}, "versions": versions}
        ],
    }


@pytest.fixture(scope="module")
def overview_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("overview") / "report.html"
    path.write_text(render_html(_overview()))
    return path


@pytest.mark.parametrize("size", sorted(WIDTHS))
def test_the_overview_lays_out_and_reads_well(
    browser: Browser, overview_file: Path, tmp_path: Path, size: str
) -> None:
    width, height = WIDTHS[size]
    page = browser.open(overview_file, width=width, height=height)
    _keep(page.screenshot(tmp_path / f"overview-{size}.png"))
    # long version labels are neither cut by a chart's edge nor drawn over each other
    assert layout_problems(page) == []
    assert accessibility_problems(page) == []
    page.close()


def _chart(page: Page, label: str, script: str) -> object:
    return page.evaluate(
        f"(() => {{ const svg = document.querySelector('svg[aria-label=\"{label}\"]'); {script} }})()"
    )


def test_the_latency_axis_reads_as_distinct_numbers(browser: Browser, overview_file: Path) -> None:
    """Today's axis read `0, 0, 0, 0, 0.01`."""
    page = browser.open(overview_file, width=1280, height=900)
    labels = _chart(
        page,
        "mean latency per version",
        "return [...svg.querySelectorAll('text[text-anchor=end]')].map(t => t.textContent);",
    )
    assert isinstance(labels, list) and len(labels) >= 3
    assert len(set(labels)) == len(labels), labels
    values = [float(v) for v in labels]
    assert values == sorted(values)
    page.close()


def test_tiny_values_draw_slivers_not_full_bars(browser: Browser, overview_file: Path) -> None:
    page = browser.open(overview_file, width=1280, height=900)
    heights = _chart(
        page,
        "mean latency per version",
        "return [...svg.querySelectorAll('rect.bar')].map(r => r.getBoundingClientRect().height);",
    )
    assert isinstance(heights, list) and heights
    assert max(heights) <= 3  # 0.01 ms on an axis to 1 ms
    page.close()


def test_equal_values_leave_both_points_visible(browser: Browser, overview_file: Path) -> None:
    """Pass rate and mean score are equal on every version: each marker stays visible
    (the pass-rate ring around the score dot)."""
    page = browser.open(overview_file, width=1280, height=900)
    hits = _chart(
        page,
        "pass rate and mean score per version",
        "return [...svg.querySelectorAll('circle.ring')].map((ring, i) => {"
        " const dot = svg.querySelectorAll('circle.dot')[i];"
        " const d = dot.getBoundingClientRect(), r = ring.getBoundingClientRect();"
        " const atDot = document.elementFromPoint(d.x + d.width / 2, d.y + d.height / 2);"
        " const atRing = document.elementFromPoint(r.x + r.width / 2, r.y + 1.5);"
        " return [atDot === dot, atRing === ring]; });",
    )
    assert isinstance(hits, list) and len(hits) == 12
    assert all(at_dot and at_ring for at_dot, at_ring in hits), hits
    page.close()
