"""examples/verl_mrt.sh's command line as Hydra overrides, composed against verl's own
``ppo_trainer`` config: what the verl tests run the example's settings through."""

from __future__ import annotations

import re
from pathlib import Path

EXAMPLE = Path(__file__).parents[2] / "examples" / "verl_mrt.sh"


def example_overrides(*, model: str, train: str = "train.parquet", val: str = "val.parquet"):
    """Every ``key=value`` of the script's ``python -m verl.trainer.main_ppo`` call, with
    its shell variables filled in."""
    script = EXAMPLE.read_text()
    command = script[script.index("python -m verl.trainer.main_ppo") :]
    values = {'"$train"': train, '"$val"': val, '"$nnodes"': "1", '"$model"': model}
    overrides = []
    for item in re.findall(r"(\+?[\w.]+=\S+)", command):
        for name, value in values.items():
            item = item.replace(name, value)
        overrides.append(item)
    return overrides


def with_changes(overrides, changes):
    """The overrides with some keys' values replaced (``+`` or not) and others appended."""
    out, done = [], set()
    for item in overrides:
        key = item.split("=", 1)[0]
        bare = key.lstrip("+")
        if bare in changes:
            out.append(f"{key}={changes[bare]}")
            done.add(bare)
        else:
            out.append(item)
    out += [f"{k}={v}" for k, v in changes.items() if k not in done]
    return out


def compose(overrides):
    """verl's ``ppo_trainer`` config with the overrides, as ``main_ppo`` composes it."""
    import verl
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    config_dir = str(Path(verl.__file__).parent / "trainer" / "config")
    with initialize_config_dir(config_dir=config_dir, version_base=None):
        return hydra_compose(config_name="ppo_trainer", overrides=overrides)
