"""Operator controls of queues and actors: pause, concurrency and rate limits, priority windows.

The engine consults them in two places only, each through one function of ``jobs.controls.gate``:
``publish_plan`` (which queues the publisher may send to, and how many) and ``admit`` (whether a
worker may start a message's job now). With no control set, either costs one cached lookup.
"""
