/* Shard bitmaps: bit i of byte i/8 is shard i, read as sixteen little-endian
 * words. 1,024 shards is what one job holds (the bitmaps live in accounts). */
#pragma once
#include "tessera/sol.h"

#define MAX_SHARDS 1024
#define BITMAP_WORDS (MAX_SHARDS / 64)

typedef struct {
  uint64_t words[BITMAP_WORDS];
} Bitmap;

/* Views an 8-byte-aligned 128-byte field as a bitmap. */
#define AS_BITMAP(bytes) ((Bitmap *)(bytes))

static inline uint64_t bitmap_count(const Bitmap *b) {
  uint64_t count = 0;
  for (int i = 0; i < BITMAP_WORDS; i++) count += __builtin_popcountll(b->words[i]);
  return count;
}

static inline bool bitmap_overlaps(const Bitmap *a, const Bitmap *b) {
  uint64_t any = 0;
  for (int i = 0; i < BITMAP_WORDS; i++) any |= a->words[i] & b->words[i];
  return any != 0;
}

static inline bool bitmap_is_subset(const Bitmap *a, const Bitmap *of) {
  uint64_t extra = 0;
  for (int i = 0; i < BITMAP_WORDS; i++) extra |= a->words[i] & ~of->words[i];
  return extra == 0;
}

/* Whether every set bit is below `count`. */
static inline bool bitmap_within(const Bitmap *b, uint64_t count) {
  for (uint64_t i = 0; i < BITMAP_WORDS; i++) {
    uint64_t first = i * 64;
    uint64_t allowed = count >= first + 64 ? ~0ULL : count <= first ? 0 : (1ULL << (count - first)) - 1;
    if (b->words[i] & ~allowed) return false;
  }
  return true;
}

static inline void bitmap_add(Bitmap *into, const Bitmap *b) {
  for (int i = 0; i < BITMAP_WORDS; i++) into->words[i] |= b->words[i];
}

static inline bool bitmap_has(const Bitmap *b, uint64_t bit) {
  return (b->words[bit / 64] >> (bit % 64)) & 1;
}

/* How many set bits lie below `bit`: its place among the set shards. */
static inline uint64_t bitmap_rank(const Bitmap *b, uint64_t bit) {
  uint64_t rank = 0;
  for (uint64_t i = 0; i < bit / 64; i++) rank += __builtin_popcountll(b->words[i]);
  if (bit % 64) rank += __builtin_popcountll(b->words[bit / 64] & ((1ULL << (bit % 64)) - 1));
  return rank;
}

/* How many set bits lie in shards [first, first + count). */
static inline uint64_t bitmap_count_range(const Bitmap *b, uint64_t first, uint64_t count) {
  return bitmap_rank(b, first + count) - bitmap_rank(b, first);
}
