"""The paper's results as executable checks, one module per section.

Each module exposes ``CHECKS``, a list of :class:`~theory_lab.checking.Check`,
registered through the ``theory_lab.checks`` entry-point group. The check
vocabulary (verdicts, hypotheses, results) is re-exported here.
"""

from theory_lab.checking import Check, Context, Evidence, Hypothesis, Result, Verdict, applicable, conclude

__all__ = ["Check", "Context", "Evidence", "Hypothesis", "Result", "Verdict", "applicable", "conclude"]
