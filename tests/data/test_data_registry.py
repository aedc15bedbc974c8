"""register_source: users' own sets, declarative (Source) or as a loader function."""

import json

import pytest

from mrt_env.data import HubSpec, Source, available_sources, load_problems, register_source
from mrt_env.errors import DataFormatError
from mrt_env.types import Problem


def test_a_registered_source_is_found_in_the_env_folder_and_through_path(tmp_path, monkeypatch):
    rows = [
        {"q_id": 3, "question": "1+1?", "answer": "2"},
        {"q_id": 4, "question": "2+2?", "answer": 4},
    ]
    (tmp_path / "my_set.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    register_source("mine", Source("mine", files=("my_set.jsonl",), id_fields=("q_id",)))
    assert "mine" in available_sources()
    monkeypatch.setenv("MRT_ENV_DATA_DIR", str(tmp_path))
    via_env = load_problems("mine")
    assert [(p.id, p.answer) for p in via_env] == [("mine/3", "2"), ("mine/4", "4")]
    monkeypatch.delenv("MRT_ENV_DATA_DIR")
    assert load_problems("mine", path=tmp_path) == via_env


def test_a_folder_lookup_also_tries_the_set_name_with_each_suffix(tmp_path):
    (tmp_path / "extra.csv").write_text("Problem,Answer\nWhat?,42\n")
    register_source("extra", Source("extra", hub=(HubSpec("org/extra"),)))
    (problem,) = load_problems("extra", path=tmp_path)
    assert (problem.id, problem.answer) == ("extra/0", "42")


def test_a_loader_function_gets_path_and_split_and_may_return_rows(tmp_path):
    seen = {}

    def loader(*, path, split):
        """Two generated problems."""
        seen.update(path=path, split=split)
        return ({"question": f"{i} + 1?", "answer": i + 1} for i in range(2))

    register_source("generated", loader)
    assert available_sources()["generated"] == "Two generated problems."
    problems = load_problems("generated", path=tmp_path, split="dev", limit=1)
    assert seen == {"path": tmp_path, "split": "dev"}
    assert [(p.id, p.answer, p.source) for p in problems] == [("generated/0", "1", "generated")]


def test_a_loader_function_may_return_problems_which_are_kept_as_they_are():
    made = [Problem("g/a", "Q?", "1", source="g"), Problem("g/b", "R?", "2", source="g")]
    register_source("g", lambda *, path, split: made)
    assert load_problems("g") == made
    register_source("g", lambda *, path, split: [made[0], made[0]], replace=True)
    with pytest.raises(DataFormatError, match="duplicate ids"):
        load_problems("g")
    register_source("g", lambda *, path, split: [], replace=True)
    with pytest.raises(DataFormatError, match="returned no problems"):
        load_problems("g")
    register_source("g", lambda *, path, split: ["text"], replace=True)
    with pytest.raises(DataFormatError, match="expected Problems or mappings, got str"):
        load_problems("g")


def test_a_user_composite(tmp_path):
    for name in ("p1", "p2"):
        (tmp_path / f"{name}.jsonl").write_text(json.dumps({"problem": name, "answer": 1}) + "\n")
        register_source(name, Source(name, files=(f"{name}.jsonl",)))
    register_source("both", Source("both", parts=("p1", "p2")))
    assert [p.id for p in load_problems("both", path=tmp_path)] == ["p1/0", "p2/0"]


def test_taken_names_need_replace_and_names_must_match():
    with pytest.raises(ValueError, match="named 'aime24' exists; pass replace=True"):
        register_source("aime24", Source("aime24", files=("x.jsonl",)))
    with pytest.raises(ValueError, match="got a Source named 'b'"):
        register_source("a", Source("b", files=("x.jsonl",)))
    with pytest.raises(TypeError, match="loader must be a Source or a callable"):
        register_source("a", "x.jsonl")
    with pytest.raises(ValueError, match="source name"):
        register_source(" ", lambda *, path, split: [])
    register_source("aime24", Source("aime24", files=("x.jsonl",)), replace=True)


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        ({"files": "a.jsonl"}, TypeError, "Source.files must be a tuple of str"),
        ({"files": ("",)}, TypeError, "non-empty str"),
        ({"hub": ("org/set",)}, TypeError, "Source.hub must hold non-empty HubSpec"),
        ({"parts": ("a",), "files": ("a.jsonl",)}, ValueError, "a composite"),
        ({}, ValueError, "needs files, hub copies or parts"),
        ({"parts": ("s",)}, ValueError, "one of its own parts"),
    ],
)
def test_source_validation(kwargs, error, match):
    with pytest.raises(error, match=match):
        Source("s", **kwargs)


def test_source_accepts_lists_and_stores_tuples():
    source = Source("s", files=["a.jsonl"], id_fields=["year", "n"])
    assert source.files == ("a.jsonl",) and source.id_fields == ("year", "n")
    assert source.file_names()[:2] == ("a.jsonl", "s.jsonl")


@pytest.mark.parametrize("repo", ["noslash", "a/b/c", "a b/c", 3])
def test_hubspec_validation(repo):
    with pytest.raises(ValueError, match="owner/name"):
        HubSpec(repo)
