"""Cursor pages: every ``list()`` of the API answers one :class:`Page`.

The wire shape is ``{"object": "list", "data": [...], "first_id", "last_id", "has_more"}``;
the next page is asked for with ``after=<last_id>``. A page holds its own ``data``;
iterating it walks every item of this page and the ones after it, one request a page.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Callable, Generic, Optional, TypeVar

from ._exceptions import APIResponseValidationError

__all__ = ["Page"]

T = TypeVar("T")


class Page(Generic[T]):
    """One page of a list: ``data`` holds its items; ``for item in page`` goes on through
    the pages after it (fetched as they are reached); :meth:`next_page` fetches one."""

    __slots__ = ("_fetch", "data", "first_id", "has_more", "last_id")

    def __init__(
        self,
        data: list[T],
        *,
        has_more: bool,
        first_id: Optional[str],
        last_id: Optional[str],
        fetch: Callable[[str], Page[T]],
    ) -> None:
        self.data = data
        """The items of this page."""
        self.has_more = has_more
        """Whether more items follow this page."""
        self.first_id = first_id
        """The id of the first item of this page."""
        self.last_id = last_id
        """The id of the last item of this page (the cursor of the next one)."""
        self._fetch = fetch

    @classmethod
    def from_wire(
        cls,
        d: Any,
        decode: Callable[[Mapping[str, Any]], T],
        fetch: Callable[[str], Page[T]],
    ) -> Page[T]:
        """A page from a wire list; ``fetch(after)`` gets the page after cursor ``after``."""
        if not isinstance(d, Mapping) or not isinstance(d.get("data"), list):
            raise APIResponseValidationError("a list response has no 'data' list", body=d)
        items = [decode(item) for item in d["data"]]
        last_id = d.get("last_id") or (getattr(items[-1], "id", None) if items else None)
        return cls(
            items,
            has_more=bool(d.get("has_more")) and last_id is not None,
            first_id=d.get("first_id"),
            last_id=last_id,
            fetch=fetch,
        )

    def next_page(self) -> Optional[Page[T]]:
        """The page after this one (one request), or None if this is the last."""
        if not self.has_more or self.last_id is None:
            return None
        return self._fetch(self.last_id)

    def iter_pages(self) -> Iterator[Page[T]]:
        """This page and every page after it; a server that names a cursor twice (which
        would page in a circle forever) is an :class:`APIResponseValidationError`."""
        page: Optional[Page[T]] = self
        cursors: set[str] = set()
        while page is not None:
            yield page
            if page.has_more and page.last_id is not None:
                if page.last_id in cursors:
                    raise APIResponseValidationError(
                        f"the list goes round in a circle: the page after {page.last_id!r} "
                        "was asked for already",
                    )
                cursors.add(page.last_id)
            page = page.next_page()

    def __iter__(self) -> Iterator[T]:
        for page in self.iter_pages():
            yield from page.data

    def __repr__(self) -> str:
        more = ", more after it" if self.has_more else ""
        return f"<Page of {len(self.data)} items{more}>"
