"""Language-model backends behind one batched protocol (see :mod:`mrt_env.lm.base`).

============================  =========  ==============================================
backend                       extra      runs
============================  =========  ==============================================
:class:`TransformersLM`       ``hf``     any causal LM, CPU or GPU, in this process
:class:`VLLMLM`               ``vllm``   vLLM's offline engine, GPU, prefix caching on
:class:`OpenAICompatibleLM`   (none)     any OpenAI-compatible completions server
:class:`TRLServerLM`          ``trl``    a ``trl vllm-serve`` server (a TRL run's policy)
============================  =========  ==============================================

Importing this package imports none of torch, transformers or vllm; each backend imports
what it needs when it is built, and a missing dependency names the extra to install.
"""

from mrt_env.lm.base import Completion, LanguageModel, TokenLogprobs
from mrt_env.lm.loading import BACKENDS, DEFAULT_MODEL, ModelConfig, load_default, load_lm
from mrt_env.lm.openai_lm import OpenAICompatibleLM
from mrt_env.lm.sampling import Sampling
from mrt_env.lm.transformers_lm import TransformersLM
from mrt_env.lm.trl_server import TRLServerLM
from mrt_env.lm.vllm_lm import VLLMLM

__all__ = [
    "BACKENDS",
    "DEFAULT_MODEL",
    "VLLMLM",
    "Completion",
    "LanguageModel",
    "ModelConfig",
    "OpenAICompatibleLM",
    "Sampling",
    "TRLServerLM",
    "TokenLogprobs",
    "TransformersLM",
    "load_default",
    "load_lm",
]
