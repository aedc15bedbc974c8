"""How every real-engine test builds its vLLM engine (a module of its own, not the
conftest: test folders each have a conftest, and ``from conftest import`` picks whichever
was imported first when pytest runs them together)."""

ENGINE = {"dtype": "float32", "enforce_eager": True, "seed": 0}
"""float32 (agreement to 1e-4 with transformers), eager (no graph capture on CPU)."""
