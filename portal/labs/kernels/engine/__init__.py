"""The kernel suite's compute engine: kernels, the checking/timing harness and the roofline.

Nothing in this package imports Django, pydantic or Celery: `bench/kernels_gpu.py`
runs it on a bare GPU machine with only PyTorch and Triton, and the Triton
interpreter check runs it in a child process.
"""
