"""The static course site (issue 23, ``scripts/course.sh site``): the landing page follows the README's table
of notebooks and shows notebook 90's comparison; every notebook has a page with its stored figures."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mer_utils import site
from mer_utils.course import list_notebooks, main as course_main
from mer_utils.paths import repo_path

NOTEBOOKS = list_notebooks()
IMAGE_SRC = re.compile(r'<img\b[^>]*\bsrc="([^"]*_images/[^"]+\.png)"')


def _stored_pngs(cells) -> int:
    return sum("image/png" in out.get("data", {}) for cell in cells for out in cell.get("outputs", []))


def _page_images(page: Path) -> list[Path]:
    """The figures of a built page: ``<img>`` tags pointing at the site's ``_images/*.png`` files."""
    return [(page.parent / src).resolve() for src in IMAGE_SRC.findall(page.read_text())]


# -- fast: the pieces -----------------------------------------------------------------------------------------
def test_readme_table_lists_every_notebook():
    rows = dict(site.readme_notebook_table(repo_path("README.md")))
    missing = [nb.stem for nb in NOTEBOOKS if nb.stem not in rows]
    assert not missing, f"README's table of notebooks lacks {missing}: the site's landing page follows it"


def test_source_notebooks_from_a_run_folder(tmp_path: Path):
    run = tmp_path / "20260101-000000-quick"
    (run / "notebooks").mkdir(parents=True)
    for nb in NOTEBOOKS[:2]:
        (run / "notebooks" / nb.name).write_text(nb.read_text())
    (run / "notebooks" / "scratch.ipynb").write_text("{}")
    assert [p.name for p in site.source_notebooks(run)] == [nb.name for nb in NOTEBOOKS[:2]]
    assert site.source_notebooks(None) == NOTEBOOKS
    with pytest.raises(site.SiteError, match="No folder"):
        site.source_notebooks(tmp_path / "nowhere")
    with pytest.raises(site.SiteError, match="No executed notebooks"):
        site.source_notebooks(tmp_path)


def test_comparison_cells_come_from_notebook_90_outputs_only():
    nb90 = repo_path("notebooks", f"{site.COMPARISON_NOTEBOOK}.ipynb")
    if not nb90.exists():
        pytest.skip("no notebook 90 yet")
    cells = site.comparison_cells(nb90)
    headings = [c["source"] for c in cells if c["cell_type"] == "markdown" and c["source"].startswith("#")]
    assert headings and all(h.startswith("### ") for h in headings), headings
    code = [c for c in cells if c["cell_type"] == "code"]
    assert code, "notebook 90's comparison sections stored no table or figure"
    assert all("remove-input" in c["metadata"]["tags"] for c in code)
    assert all(o["output_type"] != "stream" for c in code for o in c["outputs"])


def test_landing_page_marks_notebooks_missing_from_the_build():
    page = site.landing_page(NOTEBOOKS[:1], repo_path("README.md"), "a test")
    text = page["cells"][0]["source"]
    assert f"[`{NOTEBOOKS[0].stem}`](notebooks/{NOTEBOOKS[0].stem}.ipynb)" in text
    assert f"`{NOTEBOOKS[1].stem}` (not in this build)" in text


# -- slow: the build ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    pytest.importorskip("myst_nb", reason="the site needs myst-nb (pyproject's dev extra)")
    out = tmp_path_factory.mktemp("site")
    assert course_main(["site", "--out", str(out)]) == 0
    return out


@pytest.mark.slow
def test_site_config_never_executes(built: Path):
    conf = (built / "src" / "conf.py").read_text()
    assert 'nb_execution_mode = "off"' in conf
    assert not (repo_path() / "conf.py").exists(), "the site's Sphinx config belongs in the build folder"


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[nb.stem for nb in NOTEBOOKS])
def test_every_notebook_has_a_page_with_its_figures(built: Path, notebook: Path):
    page = built / "html" / "notebooks" / f"{notebook.stem}.html"
    assert page.is_file(), f"no page for {notebook.name} in {built / 'html'}"
    stored = _stored_pngs(json.loads(notebook.read_text())["cells"])
    images = _page_images(page)
    assert len(images) == stored, f"{page.name}: {len(images)} figures, {notebook.name} stores {stored}"
    for img in images:
        assert img.is_file() and img.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{page.name}: broken figure {img}"


@pytest.mark.slow
def test_landing_page_links_every_notebook_and_shows_the_comparison(built: Path):
    index = built / "html" / "index.html"
    html = index.read_text()
    for nb in NOTEBOOKS:
        assert f'href="notebooks/{nb.stem}.html"' in html, f"the landing page does not link {nb.stem}"
    nb90 = repo_path("notebooks", f"{site.COMPARISON_NOTEBOOK}.ipynb")
    if nb90.exists():
        cells = site.comparison_cells(nb90)
        assert len(_page_images(index)) == _stored_pngs(cells) > 0, "the comparison's figures are not on the page"
        tables = sum("text/html" in o.get("data", {}) for c in cells for o in c.get("outputs", []))
        assert html.count("<table") >= 1 + tables, "the comparison's tables are not on the landing page"
