"""PyTorch adapter of ctcc (work in progress)."""
