"""Shared core of the pipeline steps: dataset schema, the NAS and vineyard stores, step metrics."""
