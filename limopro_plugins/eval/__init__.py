"""Evaluation: the limopro lm-eval tasks, their grading and reasoning-pattern metrics, and the report."""
