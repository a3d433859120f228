"""Rendering a planned page into an image, its text layer and its anchors.

One renderer per page role: the report pages live in :mod:`.report_pages`, slides in
:mod:`.slide_pages`, forms in :mod:`.form_pages`. :func:`render_document` is what the generator runs,
possibly in worker processes, so it returns only plain, picklable records and PNG bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from vrag_env.corpora.corpus import IMAGES_DIR
from vrag_env.corpora.synthetic import form_pages, report_pages, slide_pages
from vrag_env.corpora.synthetic.canvas import Anchor, Canvas
from vrag_env.corpora.synthetic.documents import DocumentPlan, PagePlan
from vrag_env.types import Page

RENDERERS: dict[str, Callable[[PagePlan], Canvas]] = {
    "overview": report_pages.render_overview,
    "financials": report_pages.render_financials,
    "charts": report_pages.render_charts,
    "glance": report_pages.render_glance,
    "title": slide_pages.render_title,
    "highlights": slide_pages.render_highlights,
    "outlook": slide_pages.render_outlook,
    "segments": slide_pages.render_segments,
    "form": form_pages.render_form,
}
"""Page role -> renderer."""


@dataclass(frozen=True)
class RenderedPage:
    """A rendered page.

    Attributes:
        page: The corpus record (its image path is ``pages/{page_id}.png``).
        png: The encoded image.
        anchors: Keyed spans as printed (answers and evidence come from these).
    """

    page: Page
    png: bytes
    anchors: dict[str, Anchor]


def render_page(plan: PagePlan, compress_level: int = 1) -> RenderedPage:
    """Render one page.

    Raises:
        ValueError: If the plan's role has no renderer.
    """
    if plan.role not in RENDERERS:
        raise ValueError(f"no renderer for page role {plan.role!r}; known: {sorted(RENDERERS)}")
    canvas = RENDERERS[plan.role](plan)
    width, height = plan.size
    if canvas.image.size != (width, height):
        raise ValueError(f"renderer {plan.role!r} drew {canvas.image.size}, expected {plan.size}")
    page = Page(
        page_id=plan.page_id,
        doc=plan.doc,
        page=plan.page,
        width=width,
        height=height,
        image=f"{IMAGES_DIR}/{plan.page_id}.png",
        words=tuple(canvas.words),
        kind=plan.kind,
        meta={"role": plan.role},
    )
    return RenderedPage(page, canvas.png_bytes(compress_level), dict(canvas.anchors))


def render_document(plan: DocumentPlan) -> list[RenderedPage]:
    """Render every page of a document, in order."""
    return [render_page(p) for p in plan.pages]
