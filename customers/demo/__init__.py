"""Demo data: a pure generator (``generator``) and a fast database loader (``loader``)."""
from customers.demo.generator import DemoData, generate_demo

__all__ = ["DemoData", "generate_demo"]
