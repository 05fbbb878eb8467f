"""Typesets report documents as A4 PDFs with typst (service-specific: no other service makes PDFs).

The typst templates read every value from `sys.inputs.data` as JSON, so user text is typeset as
plain text and never becomes markup. Every PDF is exported as PDF/UA-1 (ADR 25): typst then writes the
PDF/UA identification and DisplayDocTitle, and refuses to compile a template that breaks its checks.
One check depends on what people wrote: every character must have a glyph in the embedded fonts. A
comment in a script the fonts lack (Chinese, say) or a stray control character must never cost
anyone their report, so such a document is typeset again without the PDF/UA claim (still tagged,
titled and in reading order), with a warning in the log.
"""

from __future__ import annotations

import io
import json
import logging
import threading
from importlib import resources
from pathlib import Path
from typing import Any

import typst
from pypdf import PdfReader

TEMPLATES = Path(str(resources.files("reports") / "templates"))
_compilers = threading.local()
log = logging.getLogger(__name__)
NOT_DISPLAYABLE = "could not be displayed with font"


def _compiler() -> typst.Compiler:
    # One compiler per thread keeps fonts loaded between reports (most of typst's start-up cost).
    compiler: typst.Compiler | None = getattr(_compilers, "compiler", None)
    if compiler is None:
        compiler = typst.Compiler(root=str(TEMPLATES))
        _compilers.compiler = compiler
    return compiler


def render_pdf(doc: dict[str, Any], *, template: str = "report.typ") -> bytes:
    data = {"data": json.dumps(doc)}
    try:
        pdf = _compiler().compile(input=str(TEMPLATES / template), sys_inputs=data, pdf_standards="ua-1")
    except typst.TypstError as error:
        if NOT_DISPLAYABLE not in str(error):
            raise
        # the error quotes the character: people's text, never logged
        log.warning("a character has no glyph in the fonts: PDF typeset without the PDF/UA-1 claim")
        pdf = _compiler().compile(input=str(TEMPLATES / template), sys_inputs=data)
    assert isinstance(pdf, bytes)
    return pdf


def page_count(pdf: bytes) -> int:
    return len(PdfReader(io.BytesIO(pdf)).pages)
