"""Pipelined models on a provider: loading spans and the head from fragments, serving stage sessions, fetching
fragments from peers, and driving a model across stages."""
