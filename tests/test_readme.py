"""README.md is the package's PyPI description (``readme`` in pyproject.toml): a link
there must work on PyPI, where a relative target (``docs/litellm.md``) leads nowhere.
Every link target in it is an absolute ``https://``, ``http://`` or ``mailto:`` URL
(issue 13, item 5). The project declares no repository URL, so the README names its
documents as plain paths of the source distribution instead of linking to them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"

#: Fenced code blocks and code spans: their text is shown, never a link.
_CODE = re.compile(r"^(```|~~~).*?^\1[ \t]*$|`[^`\n]*`", re.MULTILINE | re.DOTALL)
_TARGETS = (
    re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]*)"),  # [text](target), ![alt](target)
    re.compile(r"^[ \t]{0,3}\[[^\]]+\]:\s*<?(\S*?)>?(?:\s|$)", re.MULTILINE),  # [ref]: target
    re.compile(r"""\b(?:href|src)\s*=\s*["']([^"']*)["']""", re.IGNORECASE),  # HTML
    re.compile(r"<([^<>\s]+:[^<>\s]*)>"),  # <scheme:...> autolinks
)
_ABSOLUTE = re.compile(r"(https?://[^/\s]+|mailto:\S+)", re.IGNORECASE)


def link_targets(markdown: str) -> list[str]:
    """Every link target of ``markdown`` outside code, in order of the patterns."""
    text = _CODE.sub("", markdown)
    return [match.group(1) for pattern in _TARGETS for match in pattern.finditer(text)]


def broken_on_pypi(markdown: str) -> list[str]:
    """The link targets that are not absolute URLs."""
    return [target for target in link_targets(markdown) if not _ABSOLUTE.match(target)]


def test_readme_has_no_relative_link() -> None:
    assert broken_on_pypi(README.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    ("markdown", "broken"),
    [
        ("see [docs/litellm.md](docs/litellm.md))", ["docs/litellm.md"]),
        ("![logo](img/logo.png)", ["img/logo.png"]),
        ("[guide][g]\n\n[g]: docs/guide.md\n", ["docs/guide.md"]),
        ('<a href="CHANGELOG.md">changes</a>', ["CHANGELOG.md"]),
        ("[top](#quick-start)", ["#quick-start"]),
        ("[site](https://example.org/docs) and <https://example.org>", []),
        ("[mail](mailto:dev@example.org)", []),
        ("`[not a link](docs/x.md)` in code", []),
        ("```markdown\n[not a link](docs/x.md)\n```\n", []),
        ("plain `docs/litellm.md` names a file", []),
    ],
)
def test_broken_on_pypi_finds_relative_targets(markdown: str, broken: list[str]) -> None:
    assert broken_on_pypi(markdown) == broken
