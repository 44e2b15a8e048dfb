"""The LLM deployment labs: quantization benchmark and serving load test (week 8 and 12).

Modules here must stay importable without Django configured: the per-variant
worker and the baseline server run them in fresh subprocesses.
"""
