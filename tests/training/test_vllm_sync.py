"""The vLLM weight sync against FAKE engines (named so): vLLM cannot run here, so these
check only the call shapes: which model gets load_weights, with what, and that the prefix
cache is dropped after."""

import pytest

from mrt_env.errors import BackendError
from mrt_env.training.vllm_sync import sync_weights


class FakeVLLMModel:
    def __init__(self):
        self.loaded = []

    def load_weights(self, weights):
        self.loaded.append(list(weights))


class FakeTensor:
    def __init__(self, value):
        self.value = value
        self.detached = False

    def detach(self):
        out = FakeTensor(self.value)
        out.detached = True
        return out


class Node:
    def __init__(self, **children):
        self.__dict__.update(children)


class FakeLLM:
    """A fake vllm.LLM laid out as vLLM V0 (driver_worker.model_runner.model) or V1
    (driver_worker.worker.model_runner.model)."""

    def __init__(self, layout):
        self.model = FakeVLLMModel()
        runner = Node(model_runner=Node(model=self.model))
        worker = runner if layout == "v0" else Node(worker=runner)
        self.llm_engine = Node(model_executor=Node(driver_worker=worker))
        self.resets = 0

    def reset_prefix_cache(self):
        self.resets += 1


@pytest.mark.parametrize("layout", ["v0", "v1"])
def test_fake_engine_gets_every_named_tensor_and_a_cache_reset(layout):
    engine = FakeLLM(layout)
    how = sync_weights(engine, [("a.weight", FakeTensor(1)), ("b.bias", FakeTensor(2))])
    assert how == "driver_worker" and engine.resets == 1
    (loaded,) = engine.model.loaded
    assert [name for name, _ in loaded] == ["a.weight", "b.bias"]
    assert all(t.detached for _, t in loaded) and [t.value for _, t in loaded] == [1, 2]


def test_fake_engine_with_apply_model_only():
    class ApplyOnly:
        def __init__(self):
            self.model = FakeVLLMModel()

        def apply_model(self, fn):
            return [fn(self.model)]  # one worker

    engine = ApplyOnly()
    assert sync_weights(engine, [("w", FakeTensor(3))]) == "apply_model"
    assert [n for n, _ in engine.model.loaded[0]] == ["w"]


def test_an_engine_without_a_model_is_a_clear_error():
    with pytest.raises(BackendError, match="apply_model"):
        sync_weights(object(), [])
