"""The throttling engine: key windows, episodes, schedules and the hot path.

Only this layer touches a policy's state; it imports ``_core`` only.
"""
