"""DUIS alert XML: :func:`read_alert` an alert to feed, :func:`write_alert` it with metadata.

Needs the ``duis`` extra (``pip install 'alertthrottle[duis]'``, for
``defusedxml``). See docs/duis.md.
"""

from ._io.duis import DUIS_NAMESPACE, MAX_XML_BYTES, DuisAlert, read_alert, write_alert

__all__ = ["DUIS_NAMESPACE", "MAX_XML_BYTES", "DuisAlert", "read_alert", "write_alert"]

for _name in ("DuisAlert", "read_alert", "write_alert"):
    globals()[_name].__module__ = __name__
del _name
