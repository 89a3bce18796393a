"""HTML pages: the text a reader came for, under its headings; navigation, headers, footers,
scripts and forms left out, a table row read as one line."""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser

from ingest.formats import HTML, Block, Outline, Parsed, ParseLimits, decode_text

_SKIP = {
    "script",
    "style",
    "noscript",
    "nav",
    "header",
    "footer",
    "aside",
    "form",
    "iframe",
    "svg",
    "template",
    "button",
    "select",
    "head",
}
_BOILERPLATE = re.compile(r"nav|breadcrumb|sidebar|menu|footer|cookie|banner|skip", re.I)
_BLOCK = {
    "p",
    "li",
    "pre",
    "dt",
    "dd",
    "blockquote",
    "caption",
    "figcaption",
    "div",
    "section",
    "article",
    "main",
    "body",
    "html",
    "table",
    "tr",
    "ul",
    "ol",
    "dl",
    "tbody",
    "thead",
    "figure",
    "address",
    "details",
    "summary",
    "hr",
}
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}


def parse_html(data: bytes, stem: str, limits: ParseLimits) -> Parsed:

    tree = LexborHTMLParser(decode_text(data))
    title_node = tree.css_first("title")
    title = " ".join(title_node.text().split()) if title_node else ""
    blocks: list[Block] = []
    outline = Outline()
    buffer: list[str] = []

    def flush(preformatted: bool = False) -> None:
        text = "".join(buffer)
        buffer.clear()
        text = text.strip() if preformatted else " ".join(text.split())
        if text:
            blocks.append(Block(text, outline.path))

    def walk(node) -> None:
        for child in node.iter(include_text=True):
            tag = child.tag
            if tag == "-text":
                buffer.append(child.text_content or "")
            elif tag in _SKIP or _is_boilerplate(child):
                continue
            elif tag in _HEADINGS and _in_admonition(child):
                # "Tip", "Note": the title of a box inside the section, not a new section.
                flush()
                walk(child)
                flush()
            elif tag in _HEADINGS:
                flush()
                text = " ".join(child.text().split())
                if text:
                    outline.enter(_HEADINGS[tag], text)
            elif tag == "pre":
                flush()
                buffer.append(child.text())
                flush(preformatted=True)
            elif tag == "br":
                buffer.append("\n")
            elif tag in {"td", "th"}:
                # A table row reads as one line: "cell | cell | cell".
                walk(child)
                buffer.append(" | ")
            elif tag in _BLOCK:
                flush()
                walk(child)
                flush()
            else:
                walk(child)

    body = tree.body or tree.root
    if body is not None:
        walk(body)
        flush()
    if not title:
        first = tree.css_first("h1")
        title = " ".join(first.text().split()) if first else stem
    return Parsed(HTML, title, blocks)


_ADMONITION = re.compile(r"\b(tip|note|warning|caution|important|admonition|callout)\b", re.I)


def _in_admonition(heading) -> bool:
    parent = heading.parent
    return parent is not None and bool(_ADMONITION.search(parent.attributes.get("class") or ""))


def _is_boilerplate(node) -> bool:
    attributes = node.attributes
    if attributes.get("role") in {"navigation", "banner", "contentinfo"}:
        return True
    marker = f"{attributes.get('class') or ''} {attributes.get('id') or ''}"
    return bool(marker.strip()) and bool(_BOILERPLATE.search(marker))
