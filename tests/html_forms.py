"""Reading the directory's pages as a browser would, for the in-process tests."""

from __future__ import annotations

from html.parser import HTMLParser


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
