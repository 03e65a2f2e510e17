"""A tiny inventory API: the traffic the demo logs."""
