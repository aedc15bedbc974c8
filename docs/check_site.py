"""The docs check: build the site and read the HTML a reader gets, for what ``mkdocs build
--strict`` does not see.

    python docs/check_site.py                 # build into a temporary folder, then check
    python docs/check_site.py --site site/    # check a site already built

It fails (exit 1, one line per finding) on

* raw markup: double backticks, Sphinx roles (``:func:`` ...), code fences shown as text,
  docstring sections (``Args:``, ``Returns:`` ...) left unparsed;
* math left as source (``J_{j+1}``, ``Σ_{j=1}``, ``\\frac`` outside typeset math);
* anything the pages fetch from the internet (scripts, styles, fonts): the site must read
  offline;
* a shell or Python block of README.md or docs/*.md that the tests neither run nor skip with
  a reason (tests/test_docs_commands.py holds that list).

It needs only the ``docs`` extra (no browser); docs/screenshots.py is the by-eye check.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Markup that means a docstring or page was not converted. Checked in all text, code
# included: a code block that shows ```pycon or ``name`` is as wrong as a paragraph.
RAW_MARKUP = {
    "double backticks": re.compile(r"``"),
    "a Sphinx role": re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|data|exc|obj|const):"),
    "a code fence shown as text": re.compile(r"```"),
}
# A docstring section that griffe did not parse shows its title as a line of text.
SECTION = re.compile(
    r"(?:^|\n)[ \t]*(?:Args|Arguments|Parameters|Returns|Yields|Raises|Attributes)"
    r":[ \t]*(?:\n|$)"
)
# Math written as source: subscripts or superscripts in braces, big operators with
# limits, LaTeX commands. Read in prose and in code blocks without a language (the grey
# blocks math used to be written in); inline code (a grader input such as `2^{10}`) and
# code in a language (a Python comment may say J_{j-1}) are literal text.
MATH_SOURCE = re.compile(
    r"[\w\u0370-\u03ff*)][_^]\{|[Σ∑∫∏]_|\\(?:frac|sum|int|alpha|Delta|mu|cdot|leq?|geq?)\b"
)
EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.I)
# Tags whose external href is a plain link a reader may follow, not something the page loads.
LINK_TAGS = {"a"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


@dataclass(frozen=True)
class Finding:
    page: str
    what: str
    excerpt: str

    def __str__(self) -> str:
        return f"{self.page}: {self.what}: {self.excerpt!r}"


@dataclass(frozen=True)
class Text:
    """One run of text and where it sits: in code (a block, and in which language), in math."""

    text: str
    code: bool
    block: bool
    language: str | None
    math: bool


class _Reader(HTMLParser):
    """The page's text runs, each with what encloses it, and the resources it loads."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, list[str]]] = []
        self.texts: list[Text] = []
        self.loads: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("src", "href"):
            url = values.get(name) or ""
            if tag not in LINK_TAGS and re.match(r"(?:https?:)?//", url):
                self.loads.append(f"<{tag} {name}={url}>")
        if tag not in VOID:
            self.stack.append((tag, (values.get("class") or "").split()))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in VOID:
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        tags = [t for t, _ in self.stack]
        if "script" in tags or "style" in tags or not data.strip():
            return
        classes = [c for _, cs in self.stack for c in cs]
        language = next(
            (c.removeprefix("language-") for c in classes if c.startswith("language-")), None
        )
        self.texts.append(
            Text(
                data,
                code="code" in tags or "pre" in tags,
                block="pre" in tags,
                language=language,
                math=any(c in ("arithmatex", "katex") for c in classes),
            )
        )


def read_page(html: str) -> _Reader:
    reader = _Reader()
    reader.feed(html)
    reader.close()
    return reader


def _excerpt(text: str, match: re.Match[str]) -> str:
    start, end = max(0, match.start() - 40), min(len(text), match.end() + 40)
    return " ".join(text[start:end].split())


def check_html(page: str, html: str) -> list[Finding]:
    """What is wrong with one page's HTML (``page`` names it in the findings)."""
    reader = read_page(html)
    found = [Finding(page, "loads from the internet", load) for load in reader.loads]
    # Adjacent runs of one kind are joined, so a pattern split by a tag is still seen.
    for run in _joined(reader.texts):
        for what, pattern in RAW_MARKUP.items():
            found += [
                Finding(page, what, _excerpt(run.text, m)) for m in pattern.finditer(run.text)
            ]
        if not run.code:
            found += [
                Finding(page, "a docstring section left as text", _excerpt(run.text, m))
                for m in SECTION.finditer(run.text)
            ]
        if not run.math and (not run.code or (run.block and run.language in (None, "text"))):
            found += [
                Finding(page, "math left as source", _excerpt(run.text, m))
                for m in MATH_SOURCE.finditer(run.text)
            ]
    # Stylesheets may pull fonts or other sheets themselves.
    found += [Finding(page, "loads from the internet", m.group(0)) for m in _css_imports(html)]
    return found


def _css_imports(html: str) -> Iterator[re.Match[str]]:
    yield from re.finditer(r"@import\s+url\(\s*['\"]?(?:https?:)?//[^)]*\)", html)


def _joined(texts: list[Text]) -> Iterator[Text]:
    current: Text | None = None
    for t in texts:
        if current is not None and (
            current.code,
            current.block,
            current.language,
            current.math,
        ) == (
            t.code,
            t.block,
            t.language,
            t.math,
        ):
            current = Text(current.text + t.text, t.code, t.block, t.language, t.math)
            continue
        if current is not None:
            yield current
        current = t
    if current is not None:
        yield current


def check_site(site: Path) -> list[Finding]:
    """Every page of a built site, and the stylesheets it ships."""
    found: list[Finding] = []
    for path in sorted(site.rglob("*.html")):
        if path.name == "404.html":
            continue
        found += check_html(path.relative_to(site).as_posix(), path.read_text(encoding="utf-8"))
    for path in sorted(site.rglob("*.css")):
        page = path.relative_to(site).as_posix()
        found += [
            Finding(page, "loads from the internet", m.group(0))
            for m in _css_imports(path.read_text(encoding="utf-8"))
        ]
    return found


def build(site: Path) -> None:
    """``mkdocs build --strict`` into ``site``; a warning fails it (SystemExit)."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"check_site: mkdocs build --strict failed (exit {done.returncode})")


def unrun_commands() -> list[Finding]:
    """README and docs blocks that tests/test_docs_commands.py neither runs nor skips."""
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        import test_docs_commands as commands
    finally:
        sys.path.pop(0)
    return [
        Finding(where, "a command no test runs", block) for where, block in commands.unaccounted()
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, help="check this built site instead of building")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        site = args.site
        if site is None:
            site = Path(tmp) / "site"
            build(site)
        found = check_site(site) + unrun_commands()
    for finding in found:
        print(finding)
    pages = len({f.page for f in found})
    print(f"check_site: {len(found)} finding(s) on {pages} page(s)" if found else "check_site: ok")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
