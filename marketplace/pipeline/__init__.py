"""One model across several providers: fragments, stages that serve spans of layers, and the driver between them.

Manifests and digests, the wire (torch only once bytes become tensors), step receipts, evidence and routing import
no torch; `cutting` and `checks` work on tensors, and the provider's `pipeline` package runs models: they need
the provider extra.
"""
