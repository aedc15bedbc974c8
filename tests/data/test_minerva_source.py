"""MinervaMATH (`minerva`): the local layout (answer = the solution's last box) and the Hub
layout (question/answer columns) load to the same 272 problems with the same ids."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mrt_env.data import Source, available_sources, load_problems, register_source
from mrt_env.data.__main__ import main
from mrt_env.data.columns import answer_text
from mrt_env.errors import ArgumentTypeError, DataFormatError, DataNotFound
from mrt_env.grading.extract import find_boxed


def _rows(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def local(shared_data):
    return load_problems("minerva", path=shared_data)


@pytest.fixture(scope="module")
def hub_rows(shared_data):
    """The local file in the Hub's layout (math-ai/minervamath: question, answer)."""
    return [
        {"question": r["problem"], "answer": find_boxed(r["solution"])}
        for r in _rows(shared_data / "minerva_math.jsonl")
    ]


def test_registered_with_a_description_and_the_hub_copy():
    assert "MinervaMATH" in available_sources()["minerva"]
    with pytest.raises(DataNotFound) as info:
        load_problems("minerva")
    message = str(info.value)
    assert "hub math-ai/minervamath (split test)" in message
    assert "no file minerva_math.jsonl" not in message  # no MRT_ENV_DATA_DIR in these tests
    assert "hf download --repo-type dataset math-ai/minervamath" in message


def test_the_local_file_has_no_answer_column_and_the_last_box_is_the_answer(local, shared_data):
    raw = _rows(shared_data / "minerva_math.jsonl")
    assert len(local) == len(raw) == 272
    assert all("answer" not in r for r in raw)
    # The box's text, as every set's answers are: an integral "56.0" reads "56" (kept in
    # metadata["raw_answer"]), other decimals keep their digits ("0.10", "1.70e4").
    assert [p.answer for p in local] == [answer_text(find_boxed(r["solution"]))[0] for r in raw]
    assert (local[177].answer, local[177].metadata["raw_answer"]) == ("56", "56.0")
    assert (local[121].answer, local[166].answer) == ("0.10", "1.70e4")
    assert [p.id for p in local] == [f"minerva/{r['idx']}" for r in raw]
    # Nested braces are balanced, the last box wins, the text around it is not part of it.
    assert local[12].answer.startswith(r"\frac{2 \pi c^{2} R^{2}}{\lambda^{5}\left[")
    assert local[12].answer.endswith(r"\right] d^{2}}")
    assert local[86].answer == r"I(0) e^{-\frac{t}{R C}}"  # the box ends with a newline
    assert local[0].metadata["solution"] == raw[0]["solution"]
    assert local[0].metadata["type"].startswith("Introduction to Astronomy")


def test_the_env_folder_gives_the_same_problems(local, shared_data, monkeypatch):
    monkeypatch.setenv("MRT_ENV_DATA_DIR", str(shared_data))
    assert load_problems("minerva") == local


@pytest.mark.parametrize("layout", ["test.jsonl", "data/test-00000-of-00001.parquet"])
def test_the_hub_layout_gives_the_same_ids_questions_and_answers(layout, local, hub_rows, tmp_path):
    target = tmp_path / layout
    target.parent.mkdir(parents=True, exist_ok=True)
    if layout.endswith(".parquet"):
        pq.write_table(pa.Table.from_pylist(hub_rows), target)
    else:
        _write_jsonl(target, hub_rows)
    hub = load_problems("minerva", path=tmp_path)  # a folder as `hf download` writes it
    assert [(p.id, p.question, p.answer) for p in hub] == [
        (p.id, p.question, p.answer) for p in local
    ]


def test_an_answer_column_wins_over_the_solutions_box(tmp_path):
    rows = [
        {"problem": "Q0", "solution": r"so $\boxed{1}$ and then $\boxed{2}$ m", "idx": 7},
        {"problem": "Q1", "solution": r"$\boxed{3}$", "answer": "3.0e0", "idx": 8},
        {"problem": "Q2", "solution": r"\boxed{\frac{1}{2}} \fbox{}", "answer": "", "idx": 9},
    ]
    problems = load_problems("minerva", path=_write_jsonl(tmp_path / "m.jsonl", rows))
    assert [(p.id, p.answer) for p in problems] == [
        ("minerva/7", "2"),
        ("minerva/8", "3.0e0"),
        ("minerva/9", r"\frac{1}{2}"),  # an empty answer is no answer; an empty box no box
    ]


def test_a_row_without_answer_and_box_names_the_row(tmp_path):
    rows = [{"problem": "Q0", "solution": r"$\boxed{1}$"}, {"problem": "Q1", "solution": "no"}]
    path = _write_jsonl(tmp_path / "m.jsonl", rows)
    with pytest.raises(DataFormatError, match=r"m\.jsonl, line 2: no answer .*solution"):
        load_problems("minerva", path=path)


def test_other_sets_do_not_read_boxes(tmp_path):
    path = _write_jsonl(tmp_path / "a.jsonl", [{"problem": "Q", "solution": r"$\boxed{1}$"}])
    with pytest.raises(DataFormatError, match="no answer"):
        load_problems("amc23", path=path)


def test_a_users_source_may_read_boxes_and_checks_its_argument(tmp_path):
    rows = [{"question": "Q", "worked": r"\boxed{42}", "hint": r"\boxed{0}"}]
    _write_jsonl(tmp_path / "boxed.jsonl", rows)
    register_source("boxed", Source("boxed", files=("boxed.jsonl",), boxed_answer_in=("worked",)))
    assert load_problems("boxed", path=tmp_path)[0].answer == "42"
    with pytest.raises(ArgumentTypeError, match="boxed_answer_in must be a tuple of str"):
        Source("bad", files=("x.jsonl",), boxed_answer_in="solution")


def test_the_command_line_summary(shared_data, capsys):
    assert main(["minerva", "--path", str(shared_data), "--limit", "20"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("minerva: 20 problems (ids minerva/0 ... minerva/19)")
    assert "answer: 1.6" in out
