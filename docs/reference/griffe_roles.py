"""A griffe extension for the docs build: the reST bits of docstrings, as Markdown.

The SDK's docstrings are read in editors and through ``help()`` as much as on this site, so
they keep the short reST forms: roles (:class:`Timeout`, :meth:`close`, :attr:`models`) and
``::`` before an indented example. Left as they are, the Google-style renderer would print
that markup literally. This extension turns each role into a cross-reference to the object it
names, resolved in the scope of the docstring that mentions it (a name the site does not
render, such as a private helper, stays plain code, without a warning), and ends the line
before an example with one colon, as reST shows it; the indented example is a code block in
Markdown already.
"""

from __future__ import annotations

import html
import re
from typing import Any, Optional

import griffe

_ROLE = re.compile(
    r":(?:py:)?(?:class|meth|attr|func|mod|exc|data|obj|const):"
    r"`(?P<tilde>~?)(?P<name>\.?[A-Za-z_][\w.]*)(?P<call>\(\))?`"
)
# "text::" reads "text:"; a "::" standing alone (or after a space) disappears.
_LITERAL_MARKER = re.compile(r"(?m)(?:(?<=\S)(::)|[ \t]*(?<![^\s])::)[ \t]*$")
_PACKAGE = "deepinfra_sdk"


def _target(obj: griffe.Object, name: str) -> Optional[str]:
    """The full path ``name`` refers to from ``obj``'s docstring, if it can be found."""
    name = name.lstrip(".")
    if name == _PACKAGE or name.startswith(_PACKAGE + "."):
        return name
    head, _, rest = name.partition(".")
    try:
        path = obj.resolve(head)
    except griffe.NameResolutionError:
        return None
    return f"{path}.{rest}" if rest else path


def _replace(obj: griffe.Object, match: re.Match[str]) -> str:
    name = match["name"].lstrip(".")
    shown = (name.rsplit(".", 1)[-1] if match["tilde"] else name) + (match["call"] or "")
    code = f"<code>{html.escape(shown)}</code>"
    target = _target(obj, name)
    if target is None:
        return code
    # `optional`: autorefs links it when the target is rendered, else leaves the code.
    return f'<autoref identifier="{html.escape(target)}" optional>{code}</autoref>'


def _walk(obj: griffe.Object) -> Any:
    yield obj
    for member in obj.members.values():
        if not member.is_alias:
            yield from _walk(member)  # type: ignore[arg-type]


class SphinxRolesToLinks(griffe.Extension):
    """Rewrite ``:class:`X``` and friends in every docstring of the package."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        for obj in _walk(pkg):
            docstring = obj.docstring
            if docstring is None:
                continue
            text = docstring.value
            if ":`" in text:
                text = _ROLE.sub(lambda m, o=obj: _replace(o, m), text)
            if "::" in text:
                text = _LITERAL_MARKER.sub(lambda m: ":" if m[1] else "", text)
            docstring.value = text
