"""Sampler benchmark suite: every method on every problem, same seeds, design and budget.

Entry points: ``python -m experiments.benchmarks.sampler_suite`` (sample efficiency) and
``python -m experiments.benchmarks.sampler_overhead`` (seconds per proposal). Modules:
``problems`` (what is optimized), ``methods`` (who optimizes), ``botorch_loop`` (the plain
BoTorch reference loop), ``hypervolume`` (the score), ``runner`` (one run, the results
CSV), ``report`` (summary table and plots), ``findings`` (known objectives, batches and
the convergence stop, from the same CSV).
"""
