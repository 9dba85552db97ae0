"""Operations: events in, reports out (incidents, digests, root causes, shadows).

Imports ``_core`` and ``_engine``; never ``_io``.
"""
