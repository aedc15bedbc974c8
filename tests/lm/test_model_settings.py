"""ModelConfig: which model and how it runs, checked once; load_lm takes it (or a name)."""

import pytest

from mrt_env.errors import ConfigError
from mrt_env.lm import ModelConfig, TransformersLM, load_lm


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"name": " "}, "name must be a hub id"),
        ({"name": "m", "backend": "tgi"}, "backend must be one of"),
        ({"name": "m", "dtype": "float8"}, "dtype must be one of"),
        ({"name": "m", "device": ""}, "device must be"),
        ({"name": "m", "backend": "openai"}, "backend openai needs base_url"),
        ({"name": "m", "base_url": "localhost:8000"}, "base_url must start with http"),
    ],
)
def test_bad_settings_fail_when_built(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        ModelConfig(**kwargs)


def test_load_lm_takes_settings_or_a_name_with_the_same_fields(tiny_model_dir):
    settings = ModelConfig(str(tiny_model_dir), device="cpu", dtype="float32")
    by_settings = load_lm(settings, max_batch_size=4)
    by_name = load_lm(str(tiny_model_dir), device="cpu", dtype="float32", max_batch_size=4)
    for lm in (by_settings, by_name):
        assert isinstance(lm, TransformersLM) and lm.max_batch_size == 4
        assert str(lm.device) == "cpu"
    # The name path is the same validation, not a second copy of it.
    with pytest.raises(ConfigError, match="dtype must be one of"):
        load_lm(str(tiny_model_dir), dtype="float8")
    with pytest.raises(TypeError, match=r"\['device'\] in the ModelConfig"):
        load_lm(settings, device="cuda")
