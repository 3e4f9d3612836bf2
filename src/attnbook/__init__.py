"""Attention, explained: the course package (toy tasks, models, plots and the grader engine)."""

__version__ = "0.1.0"
