"""Benchmarks of deepinfra_sdk against a bare requests loop and openai-python.

Run ``python -m bench`` (or ``python bench/run.py``); ``--help`` lists the cases. The
``bench_*.py`` scripts also run standalone. Nothing here is imported by the SDK or its tests.
"""
