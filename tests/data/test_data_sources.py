"""load_problems on the real benchmark files, through MRT_ENV_DATA_DIR and through path=."""

import subprocess
import sys

import pytest

from mrt_env.data import available_sources, load_problems
from mrt_env.errors import DataNotFound
from mrt_env.grading import grade
from mrt_env.types import Problem

COUNTS = {
    "aime24": 30,
    "aime25": 30,
    "aime": 60,
    "amc23": 40,
    "math500": 500,
    "minerva": 272,
    "aime_1983_2023": 975,
}


@pytest.fixture(scope="module")
def loaded(shared_data):
    """Every named set loaded once through path= (the tests below compare other routes)."""
    return {name: load_problems(name, path=shared_data) for name in COUNTS}


def test_every_named_set_is_registered():
    assert set(COUNTS) <= set(available_sources())
    assert all(available_sources()[name] for name in COUNTS)  # each has a description


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_counts_through_path_and_env_var_agree(name, loaded, shared_data, monkeypatch):
    via_path = loaded[name]
    monkeypatch.setenv("MRT_ENV_DATA_DIR", str(shared_data))
    via_env = load_problems(name)
    assert len(via_path) == len(via_env) == COUNTS[name]
    assert via_path == via_env  # same ids, questions and answers
    assert all(isinstance(p, Problem) for p in via_env)


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_ids_are_unique_stable_and_prefixed(name, loaded, shared_data):
    ids = [p.id for p in loaded[name]]
    assert len(set(ids)) == len(ids)
    assert [p.id for p in load_problems(name, path=shared_data)] == ids
    parts = ("aime24", "aime25") if name == "aime" else (name,)
    assert all(i.split("/", 1)[0] in parts for i in ids)


def test_ids_come_from_each_layouts_id_columns(loaded):
    assert loaded["aime24"][0].id == "aime24/60"  # the file's integer id column
    assert loaded["aime25"][0].id == "aime25/0"
    assert loaded["math500"][0].id == "math500/test/precalculus/807.json"  # unique_id
    assert loaded["aime_1983_2023"][0].id == "aime_1983_2023/1983-1-1"  # year-contest-number
    assert loaded["minerva"][0].id == "minerva/0"  # the idx column
    assert [p.id for p in loaded["aime"]] == [p.id for p in loaded["aime24"] + loaded["aime25"]]


def test_every_gold_answer_grades_as_correct_against_itself(loaded):
    wrong = [
        (p.id, p.answer)
        for problems in loaded.values()
        for p in problems
        if not grade(f"\\boxed{{{p.answer}}}", p.answer).correct
    ]
    assert not wrong, wrong[:10]


def test_answers_are_normalised_strings(loaded):
    amc = loaded["amc23"][0]
    assert amc.answer == "27" and amc.metadata["raw_answer"] == 27.0
    assert loaded["aime25"][0].answer == "70"  # an int in the file
    everything = [p for problems in loaded.values() for p in problems]
    assert all(isinstance(p.answer, str) and p.answer == p.answer.strip() for p in everything)


def test_metadata_keeps_the_other_columns(loaded):
    first = loaded["math500"][0]
    assert {"solution", "subject", "level", "unique_id"} <= set(first.metadata)
    assert "problem" not in first.metadata and "answer" not in first.metadata
    pool = loaded["aime_1983_2023"][0].metadata
    assert (pool["year"], pool["aime_number"], pool["problem_number"]) == (1983, 1, 1)


def test_path_may_be_a_file_of_any_name(shared_data):
    problems = load_problems("amc23", path=shared_data / "amc23.jsonl")
    assert len(problems) == 40 and problems[0].id == "amc23/0"


def test_a_file_path_as_name_loads_as_its_stem(shared_data):
    problems = load_problems(str(shared_data / "aime25.jsonl"))
    assert len(problems) == 30 and problems[0].source == "aime25"
    assert load_problems(shared_data / "math_500.jsonl")[0].id.startswith("math_500/")


def test_an_unregistered_name_with_path_names_the_set(shared_data):
    problems = load_problems("my_bench", path=shared_data / "aime25.jsonl")
    assert problems[0].id == "my_bench/0" and problems[0].source == "my_bench"


def test_limit_keeps_the_first_problems(loaded, shared_data):
    assert load_problems("math500", path=shared_data, limit=5) == loaded["math500"][:5]
    assert len(load_problems("aime24", path=shared_data, limit=1000)) == 30


@pytest.mark.parametrize("limit", [0, -1, True, 1.5, "3"])
def test_bad_limit_is_a_value_error_saying_what_came(limit, shared_data):
    with pytest.raises(ValueError, match="limit must be a positive int") as info:
        load_problems("aime24", path=shared_data, limit=limit)
    assert repr(limit) in str(info.value)


def test_split_is_ignored_for_a_local_file(loaded, shared_data):
    assert load_problems("aime24", path=shared_data, split="test") == loaded["aime24"]


def test_unknown_name_lists_the_known_sets_and_mentions_files():
    with pytest.raises(ValueError, match="unknown problem set 'aime2099'") as info:
        load_problems("aime2099")
    message = str(info.value)
    assert all(name in message for name in COUNTS)
    assert ".jsonl" in message


def test_a_missing_file_given_as_name_is_data_not_found(tmp_path):
    with pytest.raises(DataNotFound, match="no such file"):
        load_problems(str(tmp_path / "nope.jsonl"))


def test_an_explicit_missing_path_fails_at_once_without_other_sources(tmp_path, shared_data):
    with pytest.raises(DataNotFound, match="no such file or folder") as info:
        load_problems("aime24", path=tmp_path / "missing")
    assert "hub" not in str(info.value)
    with pytest.raises(DataNotFound, match="no data for 'aime24' in this folder"):
        load_problems("aime24", path=tmp_path)  # exists, but holds no aime24 file


def test_env_dir_without_the_file_falls_through_and_is_listed(tmp_path, monkeypatch):
    monkeypatch.setenv("MRT_ENV_DATA_DIR", str(tmp_path))
    with pytest.raises(DataNotFound) as info:
        load_problems("aime24")
    message = str(info.value)
    assert f"MRT_ENV_DATA_DIR: no file aime24.jsonl in {tmp_path}" in message
    assert "path=: not given" in message
    assert "hub HuggingFaceH4/aime_2024 (split train)" in message  # the stubbed Hub line
    for way in (
        "export MRT_ENV_DATA_DIR=",
        'load_problems("aime24", path=',
        "hf download --repo-type dataset HuggingFaceH4/aime_2024",
        "huggingface-cli download --repo-type dataset HuggingFaceH4/aime_2024",
    ):
        assert way in message


def test_env_dir_that_is_not_a_folder_warns_and_is_listed(tmp_path, monkeypatch):
    monkeypatch.setenv("MRT_ENV_DATA_DIR", str(tmp_path / "typo"))
    with pytest.warns(UserWarning, match="not a folder"), pytest.raises(DataNotFound) as info:
        load_problems("amc23")
    assert "MRT_ENV_DATA_DIR=" in str(info.value) and "not a folder" in str(info.value)


def test_the_training_pool_says_it_has_no_hub_copy_and_how_to_get_it():
    with pytest.raises(DataNotFound) as info:
        load_problems("aime_1983_2023")
    message = str(info.value)
    assert "no verified copy of this set on the Hugging Face Hub" in message
    assert "deepscaler" in message and "MRT_ENV_DATA_DIR" in message
    assert "hf download" not in message


def test_composite_parts_keep_their_prefix_and_source(loaded):
    sources = {p.source for p in loaded["aime"]}
    assert sources == {"aime24", "aime25"}


def test_importing_the_package_and_loading_jsonl_imports_nothing_heavy(shared_data):
    code = (
        "import sys, mrt_env.data as d; "
        f"d.load_problems('aime24', path={str(shared_data)!r}); "
        "print(sorted(m for m in ('datasets', 'pyarrow', 'torch', 'transformers', 'tyro') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]"


def test_argument_types_are_checked(shared_data):
    with pytest.raises(TypeError, match="name must be a str"):
        load_problems(24)
    with pytest.raises(ValueError, match="empty string"):
        load_problems("  ")
    with pytest.raises(TypeError, match="split must be a str"):
        load_problems("aime24", path=shared_data, split=1)
    with pytest.raises(TypeError):
        load_problems("aime24", path=3)
