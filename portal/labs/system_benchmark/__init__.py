"""The system benchmark lab: memory bandwidth and matmul throughput (week 3)."""
