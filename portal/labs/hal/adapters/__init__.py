"""Built-in adapters. Each module exposes `probe() -> list[Accelerator]`, raising
`AdapterUnavailable(reason)` when its driver or binding is missing."""
