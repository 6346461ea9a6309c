"""The conformance suite: pytest cases that drive the reference peer against a peer under test and grade
every requirement they exercise (docs/suite.md). `plugin.py` is the pytest plugin, `case.py` what a case
works with, `grading.py` the outcomes, `cases/` the cases themselves.
"""

from .case import Case, CaseFailed, Target, Unsupported
from .grading import OUTCOMES, Finding, Record, grade

__all__ = ["OUTCOMES", "Case", "CaseFailed", "Finding", "Record", "Target", "Unsupported", "grade"]
