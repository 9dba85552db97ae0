"""Input and output: traffic files, policy files and device registries.

Imports ``_core`` and ``_engine``; never ``_ops``.
"""
