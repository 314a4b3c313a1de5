"""Code generation with causal language models: batched, seeded generation
with stop sequences (generate.py). Scoring lives with the task kind
(engine.kinds.code_generation), execution in engine.codeeval."""
