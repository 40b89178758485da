"""Griffe extension: the reStructuredText bits of xlosses' numpydoc docstrings as Markdown.

The docstrings follow numpydoc, which writes math and cross-references in
reStructuredText; mkdocstrings renders docstring text as Markdown.  Before the
docstrings are parsed, this extension rewrites

* ``.. math::`` directives into ``$$ ... $$`` blocks (rendered by
  ``pymdownx.arithmatex`` and MathJax),
* ``:math:`x``` roles into inline ``$x$``,
* ``.. note::`` / ``.. warning::`` (…) into admonitions and ``.. [1]``
  citations into ``[1]``,
* the types of numpydoc items (``name : array, shape ``[n]````) into plain
  text (mkdocstrings shows them as code, where backticks would print),
* ``:func:`name```, ``:class:`name``` (and ``:meth:``, ``:mod:``, ``:data:``,
  ``:attr:``, ``:obj:``) into autorefs links when ``name`` is a documented
  object of the package, and into inline code otherwise (so an unknown name
  never produces a broken link).

Used from ``mkdocs.yml`` (``extensions: [docs/griffe_rst.py:RstToMarkdown]``);
:func:`rst_to_markdown` is plain text in, text out, and is unit-tested in
``tests/test_docs.py``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

try:
    import griffe

    _Extension: type = griffe.Extension
except ImportError:  # the text conversion works (and is tested) without griffe
    griffe = None
    _Extension = object

__all__ = ["RstToMarkdown", "rst_to_markdown"]

_DIRECTIVE = re.compile(r"^(?P<indent>[ \t]*)\.\. math::[ \t]*(?P<arg>.*)$")
_ADMONITION = re.compile(
    r"^(?P<indent>[ \t]*)\.\. (?P<kind>note|warning|seealso|important|tip|caution|attention)::"
    r"[ \t]*(?P<arg>.*)$"
)
_CITATION = re.compile(r"^(?P<indent>[ \t]*)\.\. \[(?P<label>[^\]]+)\][ \t]+")
_MATH_ROLE = re.compile(r":math:`(?P<tex>[^`]+)`")
_XREF_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|data|attr|obj|exc):`~?(?P<name>[^`]+)`")


def _math_blocks(lines: list[str]) -> Iterator[str]:
    """Replace each ``.. math::`` directive (and its indented body) by a ``$$`` block."""
    i = 0
    while i < len(lines):
        m = _DIRECTIVE.match(lines[i])
        if m is None:
            yield lines[i]
            i += 1
            continue
        indent = m.group("indent")
        body = [m.group("arg")] if m.group("arg").strip() else []
        i += 1
        while i < len(lines) and (
            not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > len(indent)
        ):
            body.append(lines[i])
            i += 1
        while body and not body[-1].strip():
            body.pop()
        trailing = [""] if i < len(lines) else []
        strip = min((len(b) - len(b.lstrip()) for b in body if b.strip()), default=0)
        yield from ("", f"{indent}$$")
        yield from (f"{indent}{b[strip:]}".rstrip() for b in body if b.strip())
        yield from (f"{indent}$$", *trailing)


_ITEM_SECTIONS = {
    "parameters",
    "other parameters",
    "returns",
    "yields",
    "receives",
    "raises",
    "warns",
    "attributes",
}


def _plain_item_types(lines: list[str]) -> Iterator[str]:
    """Drop RST ``literal`` markup from the item lines (``name : type``) of numpydoc sections.

    mkdocstrings shows those types as code already, where backticks would print
    literally.
    """
    section = ""
    for i, line in enumerate(lines):
        nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if line.strip() and nxt and set(nxt) == {"-"} and len(nxt) >= 3:
            section = line.strip().lower()
        elif section in _ITEM_SECTIONS and line.strip() and not line[0].isspace():
            line = line.replace("``", "")
        yield line


def _admonitions(lines: list[str]) -> Iterator[str]:
    """``.. note::`` (and friends) as Material admonitions; ``.. [1] ref`` as ``[1] ref``."""
    for line in lines:
        m = _ADMONITION.match(line)
        if m:
            kind = {"seealso": "info", "caution": "warning", "attention": "warning"}.get(
                m.group("kind"), m.group("kind")
            )
            yield f"{m.group('indent')}!!! {kind}"
            if m.group("arg").strip():
                yield f"{m.group('indent')}    {m.group('arg').strip()}"
            continue
        yield _CITATION.sub(lambda c: f"{c.group('indent')}[{c.group('label')}] ", line)


def rst_to_markdown(text: str, resolve: Callable[[str], str | None] = lambda name: None) -> str:
    """The docstring ``text`` with RST math and cross-reference roles turned into Markdown.

    ``resolve(name)`` returns the full path of a documented object (for an
    autorefs link) or ``None`` (the name is then shown as inline code).
    """
    lines = list(_admonitions(list(_math_blocks(text.splitlines()))))
    text = "\n".join(_plain_item_types(lines))
    text = _MATH_ROLE.sub(lambda m: f"${m.group('tex')}$", text)

    def xref(m: re.Match[str]) -> str:
        name = m.group("name").strip()
        label = name.rsplit(".", 1)[-1] if m.group(0).count("`~") else name
        target = resolve(name)
        return f"[`{label}`][{target}]" if target else f"`{label}`"

    return _XREF_ROLE.sub(xref, text)


def _walk(obj: Any) -> Iterator[Any]:
    yield obj
    for member in obj.members.values():
        if not member.is_alias:
            yield from _walk(member)


class RstToMarkdown(_Extension):
    """Rewrite every docstring of a loaded package (see the module docstring)."""

    def on_package(self, *, pkg: Any, **kwargs: Any) -> None:
        objects = list(_walk(pkg))
        by_short: dict[str, str] = {}
        for obj in objects:
            # public objects of public modules: the ones the reference pages show
            if not any(part.startswith("_") for part in obj.path.split(".")):
                by_short.setdefault(obj.name, obj.path)
        paths = {obj.path for obj in objects}

        def resolver(owner: Any) -> Callable[[str], str | None]:
            def resolve(name: str) -> str | None:
                module = owner if owner.is_module else owner.module
                for candidate in (f"{module.path}.{name}", f"{pkg.path}.{name}", name):
                    if candidate in paths and not any(
                        p.startswith("_") for p in candidate.split(".")
                    ):
                        return candidate
                return by_short.get(name)

            return resolve

        for obj in objects:
            if obj.docstring is not None:
                obj.docstring.value = rst_to_markdown(obj.docstring.value, resolver(obj))
