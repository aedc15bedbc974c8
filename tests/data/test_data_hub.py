"""The Hub path: real datasets.load_dataset code, exercised without network.

The download itself cannot run here, so: the row conversion runs on in-memory
``datasets.Dataset`` objects in the Hub's layouts; the call into ``load_dataset`` runs with it
replaced; and the failure paths run for real in subprocesses whose Hub endpoint is a closed
local port (so they pass the same way with or without network).
"""

import shutil
import subprocess
import sys
import time

import pytest

from mrt_env.data import HubSpec, hub, sources
from mrt_env.errors import DataFormatError, DataNotFound, DependencyNotInstalled

datasets = pytest.importorskip("datasets")

LOAD_AIME24 = (
    "from mrt_env.data import load_problems\n"
    "try:\n"
    "    load_problems('aime24')\n"
    "except Exception as exc:\n"
    "    import traceback; traceback.print_exc()\n"
    "    print(type(exc).__name__ + ': ' + str(exc))\n"
    "else:\n"
    "    print('LOADED', len(load_problems('aime24')))\n"
)


def run_python(code, env, timeout=120):
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout
    )
    return proc, time.monotonic() - started


def test_dataset_rows_in_the_hub_layouts_become_problems():
    aime = datasets.Dataset.from_list(
        [
            {
                "id": 60,
                "problem": "P",
                "solution": "S",
                "answer": "204",
                "url": "u",
                "year": "2024",
            },
            {
                "id": 61,
                "problem": "Q",
                "solution": "T",
                "answer": "025",
                "url": "v",
                "year": "2024",
            },
        ]
    )
    problems = hub.dataset_to_problems(aime, source="aime24", origin="hub HuggingFaceH4/aime_2024")
    assert [(p.id, p.answer) for p in problems] == [("aime24/60", "204"), ("aime24/61", "025")]
    assert problems[0].metadata["year"] == "2024"

    amc = datasets.Dataset.from_list([{"question": "How far?", "answer": 27.0, "url": "u"}] * 2)
    problems = hub.dataset_to_problems(amc, source="amc23", origin="hub math-ai/amc23")
    assert [(p.id, p.answer) for p in problems] == [("amc23/0", "27"), ("amc23/1", "27")]

    math = datasets.Dataset.from_list(
        [
            {
                "problem": "X",
                "solution": "",
                "answer": "\\pi",
                "subject": "G",
                "level": 3,
                "unique_id": "test/geometry/1.json",
            }
        ]
    )
    (problem,) = hub.dataset_to_problems(
        math, source="math500", origin="hub HuggingFaceH4/MATH-500"
    )
    assert problem.id == "math500/test/geometry/1.json" and problem.answer == "\\pi"


def test_dataset_rows_without_answers_or_rows_at_all_are_errors():
    bad = datasets.Dataset.from_list(
        [{"problem": "P", "answer": "1"}, {"problem": "Q", "answer": None}]
    )
    with pytest.raises(
        DataFormatError, match=r"hub o/n \(split test\), row 1 \(0-based\): no answer"
    ):
        hub.dataset_to_problems(bad, source="s", origin="hub o/n (split test)")
    empty = datasets.Dataset.from_list([])
    with pytest.raises(DataFormatError, match="holds no rows"):
        hub.dataset_to_problems(empty, source="s", origin="hub o/n")


def test_load_from_hub_calls_load_dataset_and_maps_the_rows(monkeypatch):
    calls = []

    def fake_load_dataset(repo, config, *, split, revision):
        calls.append((repo, config, split, revision))
        return datasets.Dataset.from_list([{"problem": "P", "answer": 3, "id": "a"}])

    monkeypatch.setattr(hub, "_probe", lambda endpoint: None)
    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    spec = HubSpec("org/set", split="test", config="main", revision="abc")
    (problem,) = hub.load_from_hub(spec, source="mine")
    assert (problem.id, problem.answer, problem.source) == ("mine/a", "3", "mine")
    hub.load_from_hub(spec, source="mine", split="validation")
    assert calls == [("org/set", "main", "test", "abc"), ("org/set", "main", "validation", "abc")]


def test_any_load_dataset_failure_becomes_data_not_found_chained(monkeypatch):
    cause = ValueError("Unknown split \"dev\". Should be one of ['test'].")

    def failing(*args, **kwargs):
        raise cause

    monkeypatch.setattr(hub, "_probe", lambda endpoint: None)
    monkeypatch.setattr(datasets, "load_dataset", failing)
    with pytest.raises(DataNotFound) as info:
        hub.load_from_hub(HubSpec("org/set"), source="s", split="dev")
    assert info.value.__cause__ is cause
    assert str(info.value).startswith("hub org/set (split dev): ValueError: Unknown split")


def test_an_unreachable_hub_switches_to_offline_mode_for_that_call_only(monkeypatch):
    seen = []

    def offline_load(*args, **kwargs):
        seen.append(datasets.config.HF_HUB_OFFLINE)
        raise ConnectionError("Couldn't reach 'org/set' on the Hub (OfflineModeIsEnabled)")

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hub, "_probe", lambda endpoint: f"{endpoint} (ConnectError: refused)")
    monkeypatch.setattr(datasets, "load_dataset", offline_load)
    with pytest.raises(DataNotFound, match=r"no answer from .* refused.*no copy in the cache"):
        hub.load_from_hub(HubSpec("org/set"), source="s")
    assert seen == [True]
    assert datasets.config.HF_HUB_OFFLINE is False  # restored after the call


def test_missing_datasets_names_the_extra_and_is_listed(monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)  # as if not installed
    with pytest.raises(DependencyNotInstalled, match=r"mrt-env\[hf\]"):
        hub.load_from_hub(HubSpec("org/set"), source="s")
    monkeypatch.setattr(sources, "load_from_hub", hub.load_from_hub)  # undo the conftest stub
    with pytest.raises(DataNotFound, match=r"hub HuggingFaceH4/MATH-500 .*mrt-env\[hf\]") as info:
        sources.load_source("math500")
    assert isinstance(info.value.__cause__, DependencyNotInstalled)


def test_no_network_fails_fast_with_the_full_message(offline_env):
    proc, seconds = run_python(LOAD_AIME24, offline_env)
    out = proc.stdout
    assert out.splitlines()[0].startswith("DataNotFound: Could not load the problem set 'aime24'")
    for line in (
        "  - path=: not given",
        "  - MRT_ENV_DATA_DIR: not set",
        "  - hub HuggingFaceH4/aime_2024 (split train): no answer from http://127.0.0.1:",
        "hf download --repo-type dataset HuggingFaceH4/aime_2024 --local-dir",
        "huggingface-cli download --repo-type dataset HuggingFaceH4/aime_2024",
        "export MRT_ENV_DATA_DIR=/path/to/folder",
        'load_problems("aime24", path="/path/to/aime24.jsonl")',
    ):
        assert line in out, (line, out)
    assert "The above exception was the direct cause" in proc.stderr  # chained, not swallowed
    assert seconds < 60, seconds  # about 3 s; plain datasets retries for about 25 s


def test_hub_offline_mode_fails_fast_too(offline_env):
    env = {**offline_env, "HF_HUB_OFFLINE": "1"}
    proc, seconds = run_python(LOAD_AIME24, env)
    assert "hub HuggingFaceH4/aime_2024 (split train): ConnectionError" in proc.stdout
    assert "no answer from" not in proc.stdout  # no probe when offline mode is already on
    assert seconds < 60, seconds


def test_a_cached_copy_loads_without_network(offline_env, tmp_path):
    """A set that datasets cached earlier loads at once when the Hub does not answer."""
    rows = [{"id": 60 + i, "problem": f"What is {i}+1?", "answer": str(i + 1)} for i in range(3)]
    datasets.Dataset.from_list(rows).to_parquet(tmp_path / "train.parquet")
    built = datasets.load_dataset(
        "parquet",
        data_files={"train": str(tmp_path / "train.parquet")},
        split="train",
        cache_dir=str(tmp_path / "build"),
    )
    arrow = built.cache_files[0]["filename"]
    # Where load_dataset("HuggingFaceH4/aime_2024") leaves its copy in HF_DATASETS_CACHE.
    target = tmp_path / "hf_datasets" / "HuggingFaceH4___aime_2024" / "default" / "0.0.0" / "x"
    target.mkdir(parents=True)
    shutil.copy(arrow, target / "aime_2024-train.arrow")
    shutil.copy(arrow.rsplit("/", 1)[0] + "/dataset_info.json", target / "dataset_info.json")
    proc, seconds = run_python(LOAD_AIME24, offline_env)
    assert proc.stdout.strip() == "LOADED 3", proc.stdout + proc.stderr
    assert seconds < 60, seconds
