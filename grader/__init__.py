"""d2l-grader: grade Jupyter notebooks of a d2l.ai course, safely and exactly."""

__version__ = "0.1.0"
