"""The aggregator: the market's orchestrator, verifier and cache (see DESIGN.md, "Aggregator")."""
