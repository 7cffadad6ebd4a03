"""The code and the tests cite the documentation by page and heading: every citation resolves.

A docstring that says ``docs/semantics.md#duplicates`` must name a page of ``docs/`` and one of
its headings (with the anchors MkDocs gives them), so that renaming a heading breaks this test
rather than the reader's link.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CITATION = re.compile(r"docs/([a-z_-]+\.md)(?:#([a-z0-9_-]+))?")
HEADING = re.compile(r"^#{1,6} (.+)$", re.M)


def anchor(heading: str) -> str:
    """The anchor Python-Markdown's ``toc`` extension gives a heading."""
    text = re.sub(r"[`*]", "", heading).strip().lower()
    text = re.sub(r"[^\w\s-]", "", text)
    return re.sub(r"[-\s]+", "-", text)


def anchors_of(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return {anchor(heading) for heading in HEADING.findall(text)}


def citations() -> list[tuple[Path, str, str | None]]:
    found = []
    for directory in ("django_bulk_drf", "tests", "load_tests"):
        for path in sorted((ROOT / directory).rglob("*.py")):
            for page, fragment in CITATION.findall(path.read_text()):
                found.append((path.relative_to(ROOT), page, fragment or None))
    return found


def test_every_citation_names_a_page_and_a_heading_of_the_documentation():
    found = citations()
    assert found, "the code cites no page of docs/"
    broken = []
    for path, page, fragment in found:
        target = ROOT / "docs" / page
        if not target.exists():
            broken.append(f"{path}: docs/{page} does not exist")
        elif fragment and fragment not in anchors_of(target):
            broken.append(f"{path}: docs/{page} has no heading #{fragment}")
    assert not broken, "\n".join(broken)


def test_the_package_and_tests_cite_the_documentation_not_an_outside_document():
    outside = [
        f"{path.relative_to(ROOT)}:{number}"
        for directory in ("django_bulk_drf", "tests")
        for path in sorted((ROOT / directory).rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if re.search(r"\bSPEC\b", line)
    ]
    assert not outside, f"cite docs/<page>.md#<heading> instead: {outside}"


def test_the_anchor_rule_matches_the_built_headings():
    assert anchor("Retries, limits and throttling") == "retries-limits-and-throttling"
    assert anchor("Validation: compiled with msgspec") == "validation-compiled-with-msgspec"
    assert anchor("`/bulk/` bodies") == "bulk-bodies"
