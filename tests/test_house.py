"""Rules of the house that a refactor must not break: no module reaches into another's
private names, and nothing in the repository points outside it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "mrt_env"

# Private attributes of third-party objects that the package relies on, each for a reason
# that the code around it states: (attribute, file).
ALLOWED_FOREIGN = {
    ("_add_info", "envs/vector.py"),  # Gymnasium's VectorEnv helper, on self's base class
    # TRL's GRPOTrainer methods that MRTGRPOTrainer overrides and calls through super():
    # the seams TRL's own subclasses use (its loss reads what the second one returns).
    ("_calculate_rewards", "integrations/trl/trainer.py"),
    ("_generate_and_score_completions", "integrations/trl/trainer.py"),
    # TRL's VLLMGeneration method that builds the engine or the server client: overridden
    # for vLLM without CUDA, and called through super() for everything else.
    ("_init_vllm", "integrations/trl/trainer.py"),
    # verl 0.9.1's v1 trainer's advantage step, wrapped so that the MRT fields the reward
    # manager stored in TransferQueue reach the estimator (verl has no seam for it).
    ("_compute_advantage", "integrations/verl.py"),
    # os._exit: a grading worker whose parent died ends at once, whatever its main thread
    # is computing (sys.exit would wait for it).
    ("_exit", "grading/worker.py"),
    # torch's count of in-place writes to a tensor (what autograd checks saved tensors
    # with): the prefix cache's test that the weights are the ones its keys came from.
    ("_version", "lm/kv_cache.py"),
    # transformers' config field that names the attention function its models dispatch
    # to (read by every attention layer at each call); shared-prefix decoding switches it
    # for one generate call and back. set_attn_implementation re-validates the whole model.
    ("_attn_implementation", "lm/kv_cache.py"),
}


def _sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _violations(path: Path) -> list[str]:
    rel = path.relative_to(PACKAGE).as_posix()
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mrt_env"):
            if any(_private(part) for part in node.module.split(".")):
                found.append(f"{rel}:{node.lineno}: imports from private module {node.module}")
            found += [
                f"{rel}:{node.lineno}: imports private name {alias.name} from {node.module}"
                for alias in node.names
                if _private(alias.name)
            ]
        elif isinstance(node, ast.Import):
            found += [
                f"{rel}:{node.lineno}: imports private module {alias.name}"
                for alias in node.names
                if alias.name.startswith("mrt_env")
                and any(_private(p) for p in alias.name.split("."))
            ]
        elif isinstance(node, ast.Attribute) and _private(node.attr):
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in {"self", "cls"}:
                continue
            if (node.attr, rel) in ALLOWED_FOREIGN:
                continue
            found.append(f"{rel}:{node.lineno}: reaches into private attribute .{node.attr}")
    return found


def test_the_walk_sees_the_package():
    assert len(_sources()) > 50


@pytest.mark.parametrize(
    "source, expected",
    [
        ("from mrt_env.envs.reasoning import _Stream\n", "imports private name _Stream"),
        ("from mrt_env._runfiles import held\n", "private module mrt_env._runfiles"),
        ("import mrt_env._optional\n", "imports private module"),
        ("x = env._stream\n", "private attribute ._stream"),
        ("x = self._stream\n", None),
        ("x = type(self).__name__\n", None),
    ],
)
def test_the_rule_itself(source, expected):
    found = _violations_of_text(source)
    if expected is None:
        assert found == []
    else:
        assert len(found) == 1 and expected in found[0]


def _violations_of_text(source: str) -> list[str]:
    probe = PACKAGE / ".house_probe"
    probe.mkdir(exist_ok=True)
    target = probe / "probe.py"
    try:
        target.write_text(source, encoding="utf-8")
        return _violations(target)
    finally:
        target.unlink()
        probe.rmdir()


def test_no_module_reaches_into_private_names():
    found = [v for path in _sources() for v in _violations(path)]
    assert found == [], "\n".join(found)


def test_nothing_refers_outside_the_repository():
    places = [ROOT / "README.md", ROOT / "mkdocs.yml", ROOT / "pyproject.toml"]
    for folder in ("mrt_env", "docs", "examples", "benchmarks", "tests", ".ci"):
        places += [p for p in (ROOT / folder).rglob("*") if p.is_file()]
    needles = ("../" + "shared", "shared/" + "DESIGN", "DESIGN" + ".md", "shared/" + "notes")
    hits = []
    for path in places:
        if path.suffix in {".png", ".pt", ".safetensors", ".gz", ".pyc", ".bin"}:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError):
            continue
        hits += [f"{path.relative_to(ROOT)}: {n}" for n in needles if n in text]
    assert hits == [], "\n".join(hits)


def test_readme_is_an_entry_point():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 300, f"README has {len(lines)} lines; the rest belongs in docs/"


SETTINGS_SUFFIXES = ("Settings", "Rules", "Rule", "Options", "Params", "Command")
"""Suffixes settings classes once had: a settings class ends in Config."""
CONFIG_BASES = {"Config", "CommandConfig", "StreamConfig"}


def test_every_settings_class_is_a_config_on_the_one_base():
    """One suffix, one base class: every ``*Config`` derives from ``mrt_env.config.Config``
    (directly or through a config), and no class carries another settings suffix."""
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.ClassDef):
                continue
            where = f"{path.relative_to(PACKAGE)}: {node.name}"
            bases = {b.id for b in node.bases if isinstance(b, ast.Name)}
            if node.name.endswith("Config") and node.name != "Config":
                if not bases & CONFIG_BASES:
                    wrong.append(f"{where} is not on the Config base")
            elif node.name.endswith(SETTINGS_SUFFIXES):
                wrong.append(f"{where}: a settings class ends in Config")
    assert not wrong, wrong
