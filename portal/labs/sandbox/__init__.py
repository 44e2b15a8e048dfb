"""The Agent Sandbox: Gymnasium wrappers, ChipTuning-v0 and SB3 training on any HAL device."""
