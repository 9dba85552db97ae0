"""The ``alertthrottle`` command line: parsing, commands and rendering.

Nothing in the library imports this package; it sits on top of every layer.
"""

from .main import main

__all__ = ["main"]
