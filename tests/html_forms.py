"""Reading the directory's pages as a browser would, for the in-process tests."""

from __future__ import annotations

from html.parser import HTMLParser

from werkzeug.wrappers import Response

#: Every directory page's <title>: the page's own title, then the emulator's name.
PAGE_TITLE = "{} (ArcGIS notebook-runtime emulator)"


class _FormReader(HTMLParser):
    """What a browser would send for the page's first form: inputs and selected options."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self._select: str | None = None
        self._forms = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._forms += 1
        if self._forms != 1:
            return
        if tag == "input" and "name" in attr:
            self.fields[attr["name"]] = attr.get("value", "")
        elif tag == "select":
            self._select = attr["name"]
        elif (
            tag == "option"
            and self._select
            and ("selected" in attr or self._select not in self.fields)
        ):
            self.fields[self._select] = attr.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None


def form_fields(page: str) -> dict[str, str]:
    reader = _FormReader()
    reader.feed(page)
    return reader.fields


class Page(HTMLParser):
    """What a person sees on one of the directory's pages."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.title = ""
        self.headings: list[str] = []
        self.table: dict[str, str] = {}
        self.links: dict[str, str] = {}
        self.pre: list[str] = []
        self.errors: list[str] = []
        #: What the page says about the write that led to it (``p.notice``).
        self.notices: list[str] = []
        #: Messages beside a form's fields, by the field's id (``copy-maxCpu``).
        self.field_errors: dict[str, str] = {}
        self._open: list[tuple[str, dict]] = []
        self._text = ""
        self._th = ""
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self._open.append((tag, dict(attrs)))
        self._text = ""

    def handle_data(self, data: str) -> None:
        self._text += data

    def handle_endtag(self, tag: str) -> None:
        _, attrs = self._open.pop() if self._open else (tag, {})
        text = self._text.strip()
        if tag == "title":
            self.title = text
        elif tag in ("h1", "h2"):
            self.headings.append(text)
        elif tag == "th":
            self._th = text
        elif tag == "td" and self._th:
            self.table[self._th] = text
        elif tag == "a":
            self.links[text] = attrs.get("href", "")
        elif tag == "pre" and not any(t == "td" for t, _ in self._open):
            self.pre.append(text)
        elif tag == "p" and attrs.get("class") == "error":
            self.errors.append(text)
        elif tag == "p" and attrs.get("class") == "notice":
            self.notices.append(text)
        elif tag == "span" and attrs.get("class") == "error":
            self.field_errors[attrs.get("id", "").removesuffix("-error")] = text
        if tag != "pre":
            self._text = ""


def page_of(response: Response) -> Page:
    assert response.mimetype == "text/html", response.mimetype
    return Page(response.get_data(as_text=True))
