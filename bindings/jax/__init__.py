"""JAX adapter of ctcc (work in progress)."""
