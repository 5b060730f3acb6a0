"""Evaluation: metrics, plots and the report of a trained run."""
