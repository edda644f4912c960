"""hf-mixtrain: few-shot cross-lingual transfer with one-step mixed training and stochastic gradient surgery."""

__version__ = "0.1.0"
