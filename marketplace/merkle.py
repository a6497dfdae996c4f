"""Merkle trees over SHA-256, as result and input commitments use them.

Leaves and inner nodes are hashed with different prefixes (0x00, 0x01) so no
inner node can pass for a leaf; an odd node is carried up unchanged rather
than paired with itself, so no two different leaf lists share a root.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

LEAF, NODE = b"\x00", b"\x01"
EMPTY_ROOT = hashlib.sha256(b"tessera/merkle/empty").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(LEAF + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE + left + right).digest()


@dataclass(frozen=True)
class ProofStep:
    sibling: bytes
    sibling_is_left: bool


def _levels(leaves: Sequence[bytes]) -> list[list[bytes]]:
    level = [leaf_hash(leaf) for leaf in leaves]
    levels = [level]
    while len(level) > 1:
        level = [node_hash(level[i], level[i + 1]) if i + 1 < len(level) else level[i] for i in range(0, len(level), 2)]
        levels.append(level)
    return levels


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    return _levels(leaves)[-1][0] if leaves else EMPTY_ROOT


def merkle_proof(leaves: Sequence[bytes], index: int) -> list[ProofStep]:
    if not 0 <= index < len(leaves):
        raise IndexError(f"leaf {index} of {len(leaves)}")
    proof = []
    for level in _levels(leaves)[:-1]:
        sibling = index ^ 1
        if sibling < len(level):
            proof.append(ProofStep(level[sibling], sibling_is_left=sibling < index))
        index //= 2
    return proof


def verify_proof(root: bytes, leaf: bytes, proof: Sequence[ProofStep]) -> bool:
    node = leaf_hash(leaf)
    for step in proof:
        node = node_hash(step.sibling, node) if step.sibling_is_left else node_hash(node, step.sibling)
    return node == root
