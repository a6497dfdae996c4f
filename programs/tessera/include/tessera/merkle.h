/* Merkle proofs over SHA-256, as marketplace/merkle.py builds the trees: leaves and inner nodes hashed with
 * different prefixes (0x00, 0x01), an odd node carried up unchanged. */
#pragma once
#include "tessera/sol.h"

#define MERKLE_MAX_DEPTH 10 /* 1,024 leaves: a job's shards */

typedef struct {
  const uint8_t *data;  /* 32 bytes */
  uint64_t index;
  uint64_t count;       /* leaves in the tree */
} MerkleLeaf;

static inline void merkle_hash(uint8_t prefix, const uint8_t *left, const uint8_t *right, uint8_t *out) {
  SolBytes parts[3] = {{&prefix, 1}, {left, 32}, {right, 32}};
  sol_sha256(parts, right ? 3 : 2, out);
}

/* Whether `proof` (siblings from the leaf up, 32 bytes each, as many as the tree's shape needs) leads from the leaf
 * to `root`. The tree's shape follows from the leaf count, so the proof carries no directions. */
static inline bool merkle_proves(const MerkleLeaf *leaf, const uint8_t proof[MERKLE_MAX_DEPTH * 32],
                                 const uint8_t root[32]) {
  uint8_t node[32];
  uint64_t index = leaf->index, count = leaf->count, used = 0;
  if (index >= count) return false;
  merkle_hash(0x00, leaf->data, NULL, node);
  while (count > 1) {
    uint64_t sibling = index ^ 1;
    if (sibling < count) {
      if (used == MERKLE_MAX_DEPTH) return false;
      const uint8_t *step = proof + 32 * used++;
      if (sibling < index) merkle_hash(0x01, step, node, node);
      else merkle_hash(0x01, node, step, node);
    }
    index >>= 1;
    count = (count + 1) >> 1;
  }
  uint8_t differ = 0;
  for (int i = 0; i < 32; i++) differ |= node[i] ^ root[i];
  return differ == 0;
}
