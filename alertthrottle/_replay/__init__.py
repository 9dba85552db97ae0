"""Replay: scenarios, the one replay loop and the report values it builds.

Imports every layer below it (``_core``, ``_engine``, ``_ops``, ``_io``).
"""
