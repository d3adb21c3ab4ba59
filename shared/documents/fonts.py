"""The Chinese font of printed documents: Noto Sans SC (SIL OFL), shipped in the PyPI package
`justmytype-intl-cjk`, embedded (subset) in every PDF, so the form prints the same anywhere —
no system font, no reader font pack. Its default instance is the thin weight; the canvas below
strokes text outlines lightly (text render mode 2) so it prints at a regular weight."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import justmytype_intl_cjk
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

FONT = "NotoSansSC"
_PATH = Path(justmytype_intl_cjk.__file__).parent / "fonts/ofl/notosanssc/NotoSansSC[wght].ttf"
STROKE = 0.28  # points of outline around each glyph: thin → regular


@cache
def register() -> str:
    """Register the font once per process; returns its name."""
    pdfmetrics.registerFont(TTFont(FONT, str(_PATH)))
    return FONT


class PrintCanvas(Canvas):  # type: ignore[misc]  # reportlab has no type hints
    """Draws text filled and lightly stroked (a regular weight from the thin instance)."""

    def beginText(self, x: float = 0, y: float = 0, direction: Any = None) -> Any:
        text = super().beginText(x, y, direction)
        text.setTextRenderMode(2)
        return text

    def drawText(self, aTextObject: Any) -> None:
        self.saveState()
        self.setLineWidth(STROKE)
        super().drawText(aTextObject)
        self.restoreState()
