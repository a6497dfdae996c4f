"""One model across several providers: fragments, stages that serve spans of layers, and the driver between them.

Pure parts (fragment manifests and digests, activation bytes, step receipts, tolerance checks) import no
torch; `spans` and `driver` run models and need the provider extra.
"""
