"""--strategies entries: names, module:Class, file.py:Class, (k=v) arguments."""

import pytest
from fakes import CopyLastBoxedFakeLM

from mrt_env.agents import BlockSamplingConfig, EarlyExit, LMAgent, ParallelVote
from mrt_env.bench.cli import main as bench_main
from mrt_env.bench.config import ProblemSelection
from mrt_env.bench.specs import (
    agent_settings,
    build_agent,
    check_argument_types,
    parse_strategy,
    resolve,
)
from mrt_env.registration import ENV_IDS


def test_parse_names_and_arguments():
    spec = parse_strategy("parallel-vote(n=8, total_tokens=600)")
    assert (spec.target, dict(spec.kwargs), spec.shipped) == (
        "parallel-vote",
        {"n": 8, "total_tokens": 600},
        True,
    )
    spec = parse_strategy('my.mod:Agent(text="a, b", mode=fast, on=True)')
    assert spec.target == "my.mod:Agent" and not spec.shipped
    assert dict(spec.kwargs) == {"text": "a, b", "mode": "fast", "on": True}
    for bad, match in [
        ("think-harder", "unknown strategy 'think-harder'"),
        ("early-exit(2)", "key=value"),
        ("early-exit(m=open())", "must be a literal"),
    ]:
        with pytest.raises(ValueError, match=match):
            parse_strategy(bad)


def test_resolve_a_file_a_module_and_bad_targets(tmp_path, monkeypatch):
    (tmp_path / "mine.py").write_text(
        "from mrt_env.agents import Agent\n"
        "class Mine(Agent):\n"
        "    def __init__(self, seed=0, word='x'):\n"
        "        self.seed, self.word = seed, word\n"
        "    def act(self, observation, info):\n"
        "        return self.word\n"
        "class NotAnAgent:\n"
        "    pass\n"
    )
    by_file = resolve(parse_strategy(f"{tmp_path / 'mine.py'}:Mine"))
    assert by_file.__name__ == "Mine"
    # Checking the settings and running them resolve the same spec: the file runs once.
    assert resolve(parse_strategy(f"{tmp_path / 'mine.py'}:Mine(word='y')")) is by_file
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert resolve(parse_strategy("mine:Mine")).__name__ == "Mine"
    for text, match in [
        ("mine:Missing", "has no 'Missing'"),
        ("mine:NotAnAgent", "not an mrt_env Agent"),
        ("no_such_module_xyz:A", "cannot import no_such_module_xyz"),
        (f"{tmp_path / 'nope.py'}:A", "no file"),
    ]:
        with pytest.raises(ValueError, match=match):
            resolve(parse_strategy(text))


def test_build_agent_passes_env_settings_and_spec_arguments():
    lm = CopyLastBoxedFakeLM()  # a stand-in model: agents are only built here, not run
    settings = agent_settings(ENV_IDS["MRT-Search-v0"], max_blocks=10, max_tokens=1024)
    assert settings.stop == ("\n",) and settings.keep_stop and settings.token_budget == 480
    vote = build_agent(parse_strategy("parallel-vote(n=2)"), ParallelVote, lm, settings, seed=5)
    assert (vote.n, vote.total_tokens, vote.seed, vote.forcing_text) == (2, 480, 5, "A \\boxed{")
    early = build_agent(parse_strategy("early-exit"), EarlyExit, lm, settings, seed=1)
    assert early.m == 2 and early.stop == ("\n",) and early.temperature == 1.0
    with pytest.raises(ValueError, match="unexpected keyword"):
        build_agent(parse_strategy("early-exit(q=1)"), EarlyExit, lm, settings, seed=1)
    # Real problem sets: the paper's markers and sampling.
    aime = agent_settings(ENV_IDS["MRT-AIME-v0"], max_blocks=64, max_tokens=16384)
    agent = build_agent(parse_strategy("think-to-budget"), LMAgent, lm, aime, seed=0)
    assert agent.stop[0].startswith("\n\n") and (agent.temperature, agent.top_p) == (0.6, 0.95)
    # --agent.* values override the env's; the ones not given stay the env's.
    given = BlockSamplingConfig(temperature=0.3, block_tokens=10)
    chosen = agent_settings(
        ENV_IDS["MRT-Search-v0"], max_blocks=10, max_tokens=1024, sampling=given
    )
    assert (chosen.temperature, chosen.top_p, chosen.max_block_tokens) == (0.3, 1.0, 10)
    assert (
        chosen.token_budget == 100
        and chosen.strategy_kwargs["parallel-vote"]["total_tokens"] == 100
    )


def test_problem_selection():
    ids = [f"p{i}" for i in range(10)]
    assert ProblemSelection("all").pick(ids) == list(range(10))
    assert ProblemSelection("2:5").pick(ids) == [2, 3, 4]
    assert ProblemSelection(":3").pick(ids) == [0, 1, 2]
    assert ProblemSelection("7,p1,7").pick(ids) == [7, 1]
    for text, match in [
        ("5:2", "empty slice"),
        ("20:30", "no problem"),
        ("12", "outside"),
        ("zz", "no problem with id 'zz'"),
        ("1,,2", "empty item"),
    ]:
        with pytest.raises(ValueError, match=match):
            ProblemSelection(text).pick(ids)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("early-exit(m='x')", "m must be an int, got str 'x'"),
        ("early-exit(m=x)", "m must be an int, got str 'x'"),  # a bare word is a string
        ("early-exit(m=True)", "m must be an int, got bool True"),
        ("parallel-vote(n=2.0)", "n must be an int, got float 2.0"),
        ("early-exit(forcing_text=3)", "forcing_text must be a str or None, got int 3"),
        ("budget-forcing(cues='Wait')", "cues must be a list of str, got str 'Wait'"),
        ("budget-forcing(cues=('Wait', 1))", "cues must be a list of str, got tuple"),
        ("think-to-budget(temperature='hot')", "temperature must be a float, got str 'hot'"),
    ],
)
def test_a_strategy_argument_of_the_wrong_type_is_refused(spec, message, tmp_path, capsys):
    # Before: the constructor's `m < 1` raised a TypeError traceback, after the model loaded.
    with pytest.raises(ValueError, match="must be"):
        check_argument_types(parse_strategy(spec), resolve(parse_strategy(spec)))
    out = tmp_path / "out"
    assert bench_main(["--strategies", spec, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mrt-bench: error: strategy ") and err.count("\n") == 1
    assert message in err and not out.exists()  # refused before anything ran


def test_right_types_pass_and_a_lone_surrogate_is_refused():
    # An int is a float too; a list or a tuple of str is a sequence of str.
    for spec in (
        "parallel-vote(n=2, total_tokens=300)",
        "early-exit(m=3, forcing_text=None)",
        "think-to-budget(temperature=1, stop=['\\n'])",
        "budget-forcing(cues=('Wait',))",
    ):
        parsed = parse_strategy(spec)
        check_argument_types(parsed, resolve(parsed))
    with pytest.raises(ValueError, match="holds a lone surrogate"):
        parse_strategy('early-exit(forcing_text="\\ud800")')
