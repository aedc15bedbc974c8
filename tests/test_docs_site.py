"""What a reader of the docs site and of ``--help`` gets: docstrings converted, math typeset,
no raw markup (docs/check_site.py), ``mrt-regret`` failing loudly when nothing was measured."""

from __future__ import annotations

import ast
import contextlib
import importlib
import io
import itertools
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs"))
import check_site  # noqa: E402 - docs/ holds scripts, not a package
import rst_docstrings  # noqa: E402

# --------------------------------------------------------------------------------------------
# docs/rst_docstrings.py


def test_a_doctest_under_a_literal_block_is_fenced_at_its_paragraph_indent():
    text = "Example::\n\n    >>> 1 + 1\n    2\n\nAfter."
    out = rst_docstrings.to_markdown(text)
    assert "\n```pycon\n>>> 1 + 1\n2\n```\n" in out  # not indented: Markdown would show it
    assert out.startswith("Example:\n") and out.endswith("After.")


def test_a_doctest_in_a_section_keeps_its_indent():
    out = rst_docstrings.to_markdown("Examples:\n    >>> f()\n    1\n")
    assert "    ```pycon\n    >>> f()\n    1\n    ```" in out


def test_a_role_wrapped_onto_the_next_line_is_one_name():
    text = "the strategy (:class:`~mrt_env.agents.\nBudgetForcingExtend`, s1's)"
    assert rst_docstrings.to_markdown(text) == "the strategy (`BudgetForcingExtend`, s1's)"


def _docstring_nodes(tree: ast.AST):
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if not isinstance(body, list):
            continue
        for stmt in body:
            value = stmt.value if isinstance(stmt, ast.Expr) else None
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                yield value


def test_no_docstring_turns_an_escape_into_a_character():
    # A docstring saying ``"\n</think>"`` without r"" holds a real newline: the line after
    # it starts at column 0, the docstring is no longer dedented, and the API reference
    # shows its Args as a code block.
    found = []
    for path in sorted((ROOT / "mrt_env").rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        for node in _docstring_nodes(ast.parse(source)):
            literal = ast.get_source_segment(source, node) or ""
            if literal[:1] in "rR":
                continue
            if re.search(r"\\[^\\]", literal.replace("\\\\", "")):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not found, f"docstrings with escapes other than \\\\ (make them r-strings): {found}"


# --------------------------------------------------------------------------------------------
# docs/check_site.py on pages made for the test


def _page(body: str) -> str:
    return f"<html><head></head><body><article>{body}</article></body></html>"


def _whats(html: str) -> list[str]:
    return [f.what for f in check_site.check_html("p.html", _page(html))]


def test_a_clean_page_passes():
    html = (
        '<p>Block <span class="arithmatex">\\(J_{j-1}\\)</span> and <code>2^{10}</code>.</p>'
        '<div class="language-python highlight"><pre><code># J_{j+1} in a comment\n'
        "</code></pre></div><a href='https://arxiv.org/abs/2503.07572'>paper</a>"
    )
    assert _whats(html) == []


@pytest.mark.parametrize(
    "html, what",
    [
        ("<p>the <code>``answer``</code> key</p>", "double backticks"),
        ("<p>see :func:<code>play</code></p>", "a Sphinx role"),
        ("<pre><code>```pycon\n&gt;&gt;&gt; 1\n```</code></pre>", "a code fence shown as text"),
        ("<p>Args:\n    x: a thing</p>", "a docstring section left as text"),
        ("<p>progress J_{j+1} − J_j</p>", "math left as source"),
        ("<pre><code>Δ_k = Σ_{j=1}^{k} (1 − J_j)</code></pre>", "math left as source"),
        ('<script src="https://cdn.example/katex.js"></script>', "loads from the internet"),
        ('<link rel="stylesheet" href="//fonts.example/css">', "loads from the internet"),
    ],
)
def test_each_kind_of_raw_markup_is_found(html, what):
    assert what in _whats(html)


@pytest.mark.slow
def test_the_built_site_passes_the_docs_check(tmp_path):
    site = tmp_path / "site"
    check_site.build(site)
    assert [str(f) for f in check_site.check_site(site)] == []
    api = (site / "api" / "regret" / "index.html").read_text(encoding="utf-8")
    # analyse_trace's sections are parsed (a table, not a code block of ``names``).
    assert 'id="mrt_env.regret.analyse_trace"' in api
    assert "doc-section-title" in api and "Returns:" in api
    measures = (site / "api" / "measures" / "index.html").read_text(encoding="utf-8")
    assert "&lt;/think&gt;" in measures  # ProverRequest's literal, not taken for a tag
    concepts = (site / "concepts" / "index.html").read_text(encoding="utf-8")
    assert concepts.count('class="arithmatex"') >= 10
    assert (site / "javascripts" / "katex" / "katex.min.js").exists()


# --------------------------------------------------------------------------------------------
# --help

COMMANDS = {
    "mrt-bench": "mrt_env.bench.cli",
    "mrt-regret": "mrt_env.regret",
    "mrt-train": "mrt_env.training.cli",
    "mrt-pretrain": "mrt_env.pretrain.train",
    "mrt-data": "mrt_env.data.__main__",
    "mrt-grade": "mrt_env.grading.__main__",
}
MARKUP = re.compile(r"``|:(?:class|func|meth|mod|attr|data|exc|obj):|\(default: \)\s*[│\n]")


def _help(module: str, monkeypatch) -> str:
    monkeypatch.setenv("COLUMNS", "100")
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as done:
        importlib.import_module(module).main(["--help"])
    assert done.value.code in (0, None)
    return out.getvalue()


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_is_plain_text_with_flags_as_typed(command, monkeypatch):
    if command in ("mrt-train", "mrt-pretrain"):
        pytest.importorskip("torch")
    text = _help(COMMANDS[command], monkeypatch)
    found = [m.group(0) for m in MARKUP.finditer(text)]
    if command == "mrt-grade":  # its positional responses: tyro's own "(default: )", no flag
        found = [f for f in found if not f.startswith("(default")]
    assert not found, f"{command} --help shows markup: {found}"
    from mrt_env.cli import flag_names

    config_names = {
        name
        for name, flag in flag_names(_config_class(command)).items()
        if "_" in name and flag.startswith("--")
    }
    words = set(re.findall(r"(?<![\w.-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w-])", text))
    assert not words & config_names, f"{command} --help names fields, not flags"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_wraps_at_the_terminal_not_where_the_source_wrapped(command, monkeypatch):
    # A docstring is wrapped at 100 columns in the source; --help must wrap it at the
    # terminal's width. A line of a flag's help that ends where the next line's first word
    # would still have fit is a break the source made.
    if command in ("mrt-train", "mrt-pretrain"):
        pytest.importorskip("torch")
    monkeypatch.setenv("COLUMNS", "80")  # one column of flags
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        importlib.import_module(COMMANDS[command]).main(["--help"])
    text = out.getvalue()
    lines = [line.strip("│|").rstrip() for line in text[text.index("-h, --help") :].splitlines()]
    right = max(map(len, lines))  # where tyro wraps
    broken = []
    for a, b in itertools.pairwise(lines):
        indent = len(b) - len(b.lstrip())
        continues = indent > 4 and not b.lstrip().startswith(("-", "*", "(default"))
        # (a flag alone on its line, its help below, is no break: a has no text at b's column)
        at_column = len(a) > indent and a[indent - 2 : indent] == "  " and a[indent] != " "
        if at_column and continues and len(a) + 1 + len(b.split()[0]) < right:
            broken.append((a.strip(), b.strip()))
    assert not broken, f"{command} --help keeps the source's line breaks: {broken[:3]}"


def test_reflow_joins_a_paragraph_and_keeps_lists_and_blank_lines():
    from mrt_env.cli import reflow

    text = "One sentence\nwrapped at\n0: none.\n\n* an item\n* another\n  indented\n1. first"
    assert reflow(text) == (
        "One sentence wrapped at 0: none.\n\n* an item\n* another\n  indented\n1. first"
    )


def _config_class(command: str) -> type:
    module = importlib.import_module(COMMANDS[command])
    found = [
        obj
        for obj in vars(module).values()
        if isinstance(obj, type) and obj.__name__.endswith(("Config", "Command"))
    ]
    if not found:  # the config lives beside the command
        package = importlib.import_module(COMMANDS[command].rsplit(".", 1)[0] + ".config")
        found = [o for o in vars(package).values() if isinstance(o, type)]
    return max(found, key=lambda c: len(getattr(c, "__dataclass_fields__", {})))


def test_plain_help_turns_docstring_markup_into_terminal_text():
    from mrt_env.cli import plain_help

    flags = {"problems_per_step": "--problems-per-step", "model.name": "--model.name"}
    text = (
        "Sample ``problems_per_step`` problems (:func:`~mrt_env.training.loop.train`); "
        "``model.name`` and $J_j − J_{j-1}$; group_size stays; problems_per_step too."
    )
    assert plain_help(text, flags) == (
        "Sample --problems-per-step problems (train); --model.name and J_j − J_{j-1}; "
        "group_size stays; --problems-per-step too."
    )


# --------------------------------------------------------------------------------------------
# mrt-regret: a run in which every trace failed


def test_mrt_regret_exits_1_when_every_trace_failed(tmp_path, monkeypatch, capsys):
    from mrt_env.errors import ContextLengthExceeded
    from mrt_env.regret import cli

    def too_long(trace, **kwargs):
        raise ContextLengthExceeded("a prompt of 9 tokens plus max_tokens=4096 exceeds 1024")

    monkeypatch.setattr(cli, "analyse_trace", too_long)
    monkeypatch.setattr(cli, "build_lm", lambda config: object())
    monkeypatch.setattr(cli, "build_prover", lambda config, lm: object())
    monkeypatch.setattr(cli, "write_plots", lambda *a, **k: [])
    traces = tmp_path / "traces.jsonl"
    rows = [{"problem_id": f"p{i}", "answer": "5", "response": "5"} for i in range(2)]
    traces.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out"
    assert cli.main([str(traces), "--model.name", "m", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "every trace failed (2 of 2)" in err and "--prover.max-answer-tokens" in err
    assert (out / "summary.md").exists()  # the files say which traces failed, and why
    # One trace measured is a result: the run exits 0 and names the one that failed.
    calls = iter([ContextLengthExceeded("too long"), None])

    def one_fails(trace, **kwargs):
        error = next(calls)
        if error:
            raise error
        return {"id": trace["id"], "problem_id": trace["problem_id"], "blocks": 1}

    monkeypatch.setattr(cli, "analyse_trace", one_fails)
    monkeypatch.setattr(cli, "summarise", lambda rows, budgets: [])
    monkeypatch.setattr(cli, "write_summary", lambda *a: (out / "s.md", out / "s.csv"))
    monkeypatch.setattr(cli, "summary_table", lambda stats: [])
    monkeypatch.setattr(cli, "curve_sections", lambda rows: [])
    assert cli.main([str(traces), "--model.name", "m", "--out", str(out), "--overwrite"]) == 0
