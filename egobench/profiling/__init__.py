"""Profiling of the EGO-Edit inner loop: stage hooks, FLOP and memory measures, `egobench profile`.

Importing this package is cheap: the pipeline imports `egobench.profiling.stages` for its no-op
hooks, and the heavier modules (`recorder`, `flops`, `session`, `cli`) load only when profiling.
"""
