"""perfop: a Performance Optimization Operator for Python repositories."""

__version__ = "0.1.0"
