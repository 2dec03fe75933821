"""d2l-grader: grade the d2l.ai convolution chapter's exercises, safely and exactly."""

__version__ = "0.1.0"
