"""Local files of every format and layout, and every way a file or row can be wrong."""

import csv
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mrt_env.data import load_problems
from mrt_env.data.columns import answer_text
from mrt_env.data.files import read_rows
from mrt_env.errors import DataFormatError, DataNotFound


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def write_csv(path, rows):
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_parquet(path, rows):
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


# The column layouts of the Hub copies of the problem sets.
MATH500_ROWS = [
    {
        "problem": "Compute $1+1$.",
        "solution": "It is $\\boxed{2}$.",
        "answer": "2",
        "subject": "Algebra",
        "level": 1,
        "unique_id": "test/algebra/1.json",
    },
    {
        "problem": "Simplify $\\frac{2}{4}$.",
        "solution": "$\\boxed{\\frac12}$",
        "answer": "\\frac{1}{2}",
        "subject": "Prealgebra",
        "level": 2,
        "unique_id": "test/prealgebra/7.json",
    },
]
AIME2024_ROWS = [
    {"id": 60, "problem": "P1", "solution": "S1", "answer": "204", "url": "u1", "year": "2024"},
    {"id": 61, "problem": "P2", "solution": "S2", "answer": "025", "url": "u2", "year": "2024"},
]
AMC23_ROWS = [
    {"id": 0, "question": "How many miles?", "answer": 27.0, "url": "u"},
    {"id": 1, "question": "What ratio?", "answer": 0.5, "url": "u"},
]
CAPITALISED_ROWS = [
    {"ID": "2024-I-1", "Problem": "Find x.", "Answer": 113},
    {"ID": "2024-I-2", "Problem": "Find y.", "Answer": 7},
]


def test_math500_layout_in_jsonl(tmp_path):
    problems = load_problems("math500", path=write_jsonl(tmp_path / "m.jsonl", MATH500_ROWS))
    assert [p.id for p in problems] == [
        "math500/test/algebra/1.json",
        "math500/test/prealgebra/7.json",
    ]
    assert problems[1].answer == "\\frac{1}{2}"
    assert problems[0].metadata["subject"] == "Algebra" and problems[0].metadata["level"] == 1


def test_aime2024_hub_layout_in_parquet(tmp_path):
    problems = load_problems("aime24", path=write_parquet(tmp_path / "a.parquet", AIME2024_ROWS))
    assert [(p.id, p.question, p.answer) for p in problems] == [
        ("aime24/60", "P1", "204"),
        ("aime24/61", "P2", "025"),  # a string answer is kept as written
    ]
    assert problems[0].metadata == {"id": 60, "solution": "S1", "url": "u1", "year": "2024"}


def test_amc_float_answers_in_parquet_and_csv(tmp_path):
    for path in (
        write_parquet(tmp_path / "amc.parquet", AMC23_ROWS),
        write_csv(tmp_path / "amc.csv", AMC23_ROWS),
    ):
        problems = load_problems("amc23", path=path)
        assert [p.answer for p in problems] == ["27", "0.5"], path
        assert [p.id for p in problems] == ["amc23/0", "amc23/1"]
        assert str(problems[0].metadata["raw_answer"]) == "27.0"
        assert "raw_answer" not in problems[1].metadata


def test_capitalised_layout_in_a_json_list(tmp_path):
    path = tmp_path / "cap.json"
    path.write_text(json.dumps(CAPITALISED_ROWS))
    problems = load_problems(str(path))
    assert [(p.id, p.question, p.answer) for p in problems] == [
        ("cap/2024-I-1", "Find x.", "113"),
        ("cap/2024-I-2", "Find y.", "7"),
    ]


def test_other_aliases_and_row_index_ids(tmp_path):
    rows = [{"prompt": " Q0 ", "final_answer": " 3 "}, {"Question": "Q1", "gold": "x+1"}]
    problems = load_problems(str(write_jsonl(tmp_path / "alias.jsonl", rows)))
    assert [(p.id, p.question, p.answer) for p in problems] == [
        ("alias/0", "Q0", "3"),
        ("alias/1", "Q1", "x+1"),
    ]


def test_first_filled_question_alias_wins(tmp_path):
    rows = [{"problem": "from problem", "question": "from question", "answer": 1}]
    (problem,) = load_problems(str(write_jsonl(tmp_path / "both.jsonl", rows)))
    assert problem.question == "from problem"
    assert problem.metadata["question"] == "from question"


def test_a_json_file_with_json_lines_and_a_wrapped_list(tmp_path):
    lines = write_jsonl(tmp_path / "lines.json", AIME2024_ROWS)
    assert len(load_problems(str(lines))) == 2
    wrapped = tmp_path / "wrapped.json"
    wrapped.write_text(json.dumps({"data": AIME2024_ROWS}))
    assert [p.id for p in load_problems(str(wrapped))] == ["wrapped/60", "wrapped/61"]


def test_same_file_same_ids_with_row_index_fallback(tmp_path):
    path = write_jsonl(tmp_path / "s.jsonl", [{"question": f"Q{i}", "answer": i} for i in range(5)])
    first = [p.id for p in load_problems(str(path))]
    assert first == [p.id for p in load_problems(str(path))] == [f"s/{i}" for i in range(5)]


def test_hub_snapshot_folder_layout_with_shards(tmp_path):
    """What `hf download --local-dir` writes: data/<split>-0000k-of-0000n.parquet."""
    (tmp_path / "data").mkdir()
    write_parquet(tmp_path / "data" / "train-00000-of-00002.parquet", AIME2024_ROWS[:1])
    write_parquet(tmp_path / "data" / "train-00001-of-00002.parquet", AIME2024_ROWS[1:])
    write_parquet(tmp_path / "data" / "test-00000-of-00001.parquet", CAPITALISED_ROWS)
    problems = load_problems("aime24", path=tmp_path)  # the Hub copy's split: train
    assert [p.id for p in problems] == ["aime24/60", "aime24/61"]
    other = load_problems("aime24", path=tmp_path, split="test")
    assert [p.answer for p in other] == ["113", "7"]


def test_split_files_at_top_level_and_shard_labels_in_errors(tmp_path):
    write_jsonl(tmp_path / "test.jsonl", MATH500_ROWS)
    assert len(load_problems("math500", path=tmp_path)) == 2
    (tmp_path / "test.jsonl").unlink()
    write_jsonl(tmp_path / "test-00000-of-00002.jsonl", MATH500_ROWS)
    write_jsonl(tmp_path / "test-00001-of-00002.jsonl", [{"problem": "no answer"}])
    with pytest.raises(DataFormatError, match=r"test-00001-of-00002\.jsonl, line 1: no answer"):
        load_problems("math500", path=tmp_path)


# ---- failure paths -------------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(DataNotFound, match="does not exist"):
        read_rows(tmp_path / "nope.jsonl")
    with pytest.raises(DataNotFound, match=r"nope\.csv"):
        load_problems("aime24", path=tmp_path / "nope.csv")


@pytest.mark.parametrize(
    "name,text",
    [("e.jsonl", ""), ("b.jsonl", "\n\n  \n"), ("e.json", "[]"), ("h.csv", "problem,answer\n")],
)
def test_empty_file_is_an_error_naming_it(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(DataFormatError, match="holds no rows") as info:
        load_problems(str(path))
    assert str(path) in str(info.value)


def test_empty_parquet_file(tmp_path):
    path = tmp_path / "empty.parquet"
    pq.write_table(
        pa.table({"problem": pa.array([], pa.string()), "answer": pa.array([], pa.string())}), path
    )
    with pytest.raises(DataFormatError, match="holds no rows"):
        load_problems(str(path))


@pytest.mark.parametrize(
    "bad", [{"problem": "Q"}, {"problem": "Q", "answer": None}, {"problem": "Q", "answer": "  "}]
)
def test_a_row_without_an_answer_names_file_and_line(tmp_path, bad):
    path = write_jsonl(tmp_path / "rows.jsonl", [AIME2024_ROWS[0], bad])
    with pytest.raises(DataFormatError) as info:
        load_problems("aime24", path=path)
    message = str(info.value)
    assert f"{path}, line 2: no answer" in message
    assert "answer, Answer, final_answer, gold" in message  # what was looked for


def test_a_row_without_an_answer_in_csv_and_parquet(tmp_path):
    rows = [{"question": "Q0", "answer": "1"}, {"question": "Q1", "answer": None}]
    with pytest.raises(DataFormatError, match=r"c\.csv, line 3: no answer"):
        load_problems(str(write_csv(tmp_path / "c.csv", rows)))
    with pytest.raises(DataFormatError, match=r"p\.parquet, row 1 \(0-based\): no answer"):
        load_problems(str(write_parquet(tmp_path / "p.parquet", rows)))


def test_a_row_without_a_question(tmp_path):
    path = write_jsonl(tmp_path / "q.jsonl", [{"answer": 3, "solution": "s"}])
    with pytest.raises(DataFormatError, match=r"line 1: no question .*columns: answer, solution"):
        load_problems(str(path))


def test_bad_json_line_and_non_object_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"problem": "Q", "answer": 1}\n{"problem": \n')
    with pytest.raises(DataFormatError, match=r"bad\.jsonl, line 2: not valid JSON"):
        load_problems(str(path))
    path.write_text('{"problem": "Q", "answer": 1}\n[1, 2]\n')
    with pytest.raises(DataFormatError, match=r"line 2: expected a JSON object"):
        load_problems(str(path))


def test_unsupported_suffix_and_unreadable_parquet(tmp_path):
    (tmp_path / "x.txt").write_text("problem,answer\n")
    with pytest.raises(DataFormatError, match=r"unsupported file type '\.txt'"):
        load_problems("aime24", path=tmp_path / "x.txt")
    (tmp_path / "x.parquet").write_text("not parquet")
    with pytest.raises(DataFormatError, match="not a readable Parquet file"):
        load_problems(str(tmp_path / "x.parquet"))


def test_duplicate_ids_are_named(tmp_path):
    rows = [{"id": 7, "problem": "A", "answer": 1}, {"id": 7, "problem": "B", "answer": 2}]
    with pytest.raises(DataFormatError, match=r"duplicate id.*'dup/7' at line 1, line 2"):
        load_problems(str(write_jsonl(tmp_path / "dup.jsonl", rows)))


def test_wrong_answer_types(tmp_path):
    for answer in ([1, 2], True, float("inf")):
        path = tmp_path / "t.json"
        path.write_text(json.dumps([{"problem": "Q", "answer": answer}]))
        with pytest.raises(DataFormatError, match=r"t\.json, row 0 \(0-based\): bad answer"):
            load_problems(str(path))


def test_csv_row_with_surplus_cells(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("problem,answer\nQ,1,extra\n")
    with pytest.raises(DataFormatError, match="line 2: more cells than the header"):
        load_problems(str(path))


# ---- answers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw,text,rewritten",
    [
        (27.0, "27", True),
        ("27.0", "27", True),
        ("-3.00", "-3", True),
        ("12.", "12", True),
        (70, "70", False),
        (" 025 ", "025", False),
        (0.5, "0.5", False),
        ("1.50", "1.50", False),
        ("\\frac{1}{2}", "\\frac{1}{2}", False),
        ("-0.0", "0", True),
    ],
)
def test_answer_text(raw, text, rewritten):
    assert answer_text(raw) == (text, rewritten)


@pytest.mark.parametrize("suffix", [".jsonl", ".json", ".csv"])
def test_bytes_that_are_not_utf8_name_the_file_line_and_byte(tmp_path, suffix):
    good = {
        ".jsonl": b'{"question": "q", "answer": "1"}\n',
        ".json": b'[{"question": "q", "answer": "1"},\n',
        ".csv": b"question,answer\n",
    }[suffix]
    path = tmp_path / f"bad{suffix}"
    path.write_bytes(good + b'{"question": "caf\xe9", "answer": "2"}\n')
    with pytest.raises(DataFormatError, match=r"line 2 \(byte \d+\): not UTF-8") as info:
        read_rows(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
def test_json_nested_too_deeply_is_a_data_format_error(tmp_path, suffix):
    path = tmp_path / f"deep{suffix}"
    path.write_text('{"question": "q", "answer": "1"}\n' + "[" * 200_000 + "]" * 200_000)
    with pytest.raises(DataFormatError, match="nested too deeply") as info:
        read_rows(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
@pytest.mark.parametrize(
    ("row", "where"),
    [
        ('{"question": "What is \\ud800?", "answer": "1"}', "'question'"),
        ('{"question": "q", "answer": "1", "meta": {"tags": ["\\udfff"]}}', "'meta'['tags'][0]"),
        ('{"question": "q", "answer": "1", "\\ud800": 2}', "a key of the object"),
    ],
)
def test_a_lone_surrogate_escape_is_refused_when_the_file_loads(tmp_path, suffix, row, where):
    # Before: the question loaded, and printing it, tokenizing it (env.reset) or writing it
    # as UTF-8 failed later with a UnicodeEncodeError traceback.
    path = tmp_path / f"set{suffix}"
    path.write_text(row + "\n" if suffix == ".jsonl" else f"[{row}]")
    with pytest.raises(DataFormatError, match="lone surrogate") as info:
        load_problems(path)
    assert str(path) in str(info.value) and where in str(info.value)
    # A pair of escapes is one character (here an emoji): it loads.
    pair = tmp_path / "pair.jsonl"
    pair.write_text('{"question": "Why \\ud83d\\ude00?", "answer": "1"}\n')
    assert load_problems(pair)[0].question == "Why \U0001f600?"


@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
def test_an_integer_longer_than_python_reads_keeps_its_digits(tmp_path, suffix):
    # Python's int() takes at most 4300 digits; json.loads raised a ValueError traceback.
    digits = "9" * 5000
    row = f'{{"id": {digits}, "question": "q", "answer": {digits}}}'
    path = tmp_path / f"set{suffix}"
    path.write_text(row + "\n" if suffix == ".jsonl" else f"[{row}]")
    (problem,) = load_problems(path)
    assert problem.answer == digits and problem.id == f"set/{digits}"
