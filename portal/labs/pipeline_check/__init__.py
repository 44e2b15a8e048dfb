"""The pipeline check lab: a steady stream of events to test workers and streaming."""
