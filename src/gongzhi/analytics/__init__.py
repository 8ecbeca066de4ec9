"""Pure time-series analytics on NumPy arrays and Polars frames (no Django): anomaly detection
that tells sensor faults from real events, and the lagged correlations behind source tracing."""
