"""Readers, validation, the simulator and point-in-time feature pipelines.

Feature code is pure (DataFrames and an as-of time in, DataFrames out); files are read and
written only in the edge modules (``dataset``, ``readers``, ``mapping``).
"""
