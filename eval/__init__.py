"""Evaluation suite: the seed-article set, the held-out reader benchmark and the open-corpus SQuAD benchmark.

Every score comes from qa.metrics; every report is written by eval.report.
"""
