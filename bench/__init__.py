"""Benchmarks and reliability checks for the emulator (``make bench``, ``make reliability``).

Not part of the package: everything here starts servers on 127.0.0.1, drives
them for a bounded number of requests or seconds, and prints tables.
"""
