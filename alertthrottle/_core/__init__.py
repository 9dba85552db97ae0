"""Values: alerts, thresholds, decisions, events and errors.

The bottom layer: it imports nothing else from the package, and everything
above may import it.
"""
