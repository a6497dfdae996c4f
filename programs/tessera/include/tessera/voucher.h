/* A payment-channel voucher: the channel's authorizer signed, off chain,
 * (channel, generation, cumulative amount). The program cannot afford to
 * verify an ed25519 signature itself; the Ed25519 precompile does, in an
 * instruction of the same transaction, and the program reads that
 * instruction back from the instructions sysvar. The precompile verifies
 * whatever its offsets point at, anywhere in the transaction, so the whole
 * instruction is compared with the one expected, byte for byte: one
 * signature; every offset; all three instruction indexes naming the
 * precompile instruction itself; the authorizer's key; the message. Only
 * the signature's bytes are free, and the precompile has checked them. */
#pragma once
#include "tessera/checks.h"

static const SolPubkey INSTRUCTIONS_SYSVAR_ID = {{0x06, 0xa7, 0xd5, 0x17, 0x18, 0x7b, 0xd1, 0x66, 0x35, 0xda, 0xd4,
                                                  0x04, 0x55, 0xfd, 0xc2, 0xc0, 0xc1, 0x24, 0xc6, 0x8f, 0x21, 0x56,
                                                  0x75, 0xa5, 0xdb, 0xba, 0xcb, 0x5f, 0x08, 0x00, 0x00, 0x00}};
static const SolPubkey ED25519_PROGRAM_ID = {{0x03, 0x7d, 0x46, 0xd6, 0x7c, 0x93, 0xfb, 0xbe, 0x12, 0xf9, 0x42,
                                              0x8f, 0x83, 0x8d, 0x40, 0xff, 0x05, 0x70, 0x74, 0x49, 0x27, 0xf4,
                                              0x8a, 0x64, 0xfc, 0xca, 0x70, 0x44, 0x80, 0x00, 0x00, 0x00}};

/* The message: a domain no other signed bytes start with, then the fields. */
#define VOUCHER_DOMAIN "tessera/voucher/v1"
#define VOUCHER_DOMAIN_LEN 18
#define VOUCHER_MESSAGE_LEN (VOUCHER_DOMAIN_LEN + 32 + 8 + 8)

/* The precompile's data: a count, a padding byte, one offsets entry, then
 * (as Solana's SDK lays it out) the key, the signature and the message. */
#define ED25519_KEY_OFFSET 16
#define ED25519_SIGNATURE_OFFSET (ED25519_KEY_OFFSET + 32)
#define ED25519_MESSAGE_OFFSET (ED25519_SIGNATURE_OFFSET + 64)
#define ED25519_DATA_LEN (ED25519_MESSAGE_OFFSET + VOUCHER_MESSAGE_LEN)
#define ED25519_THIS_INSTRUCTION 0xffff

static inline uint16_t read_u16(const uint8_t *bytes) { return (uint16_t)(bytes[0] | bytes[1] << 8); }

static inline void write_u16(uint8_t *bytes, uint16_t value) {
  bytes[0] = (uint8_t)value;
  bytes[1] = (uint8_t)(value >> 8);
}

static inline bool bytes_eq(const uint8_t *a, const uint8_t *b, uint64_t len) {
  int result = 1;
  sol_memcmp_(a, b, len, &result);
  return result == 0;
}

/* The instruction just before the current one, from the instructions sysvar
 * (u16 count, u16 offsets, then per instruction: u16 account count, 33 bytes
 * an account, program id, u16 data length, data; the current index last). */
static inline uint64_t previous_instruction(const SolAccountInfo *sysvar, const SolPubkey **program_id,
                                            const uint8_t **data, uint64_t *data_len) {
  if (!pubkey_eq(sysvar->key, &INSTRUCTIONS_SYSVAR_ID)) return ERR_INVALID_SYSVAR;
  const uint8_t *bytes = sysvar->data;
  uint64_t len = sysvar->data_len;
  if (len < 4) return ERR_INVALID_VOUCHER;
  uint64_t count = read_u16(bytes), current = read_u16(bytes + len - 2);
  if (current == 0 || current >= count || len < 2 + 2 * count) return ERR_INVALID_VOUCHER;
  uint64_t at = read_u16(bytes + 2 + 2 * (current - 1));
  if (at + 2 > len) return ERR_INVALID_VOUCHER;
  at += 2 + 33 * (uint64_t)read_u16(bytes + at);
  if (at + 32 + 2 > len) return ERR_INVALID_VOUCHER;
  *program_id = (const SolPubkey *)(bytes + at);
  *data_len = read_u16(bytes + at + 32);
  *data = bytes + at + 34;
  return at + 34 + *data_len > len ? ERR_INVALID_VOUCHER : 0;
}

/* Checks that the instruction before this one is the Ed25519 precompile
 * verifying `authorizer`'s signature over the voucher for `amount`. */
static inline uint64_t require_voucher(const SolAccountInfo *sysvar, const SolPubkey *channel,
                                       const SolPubkey *authorizer, uint64_t generation, uint64_t amount) {
  const SolPubkey *program_id;
  const uint8_t *data;
  uint64_t data_len;
  TRY(previous_instruction(sysvar, &program_id, &data, &data_len));
  /* The key is copied out: the sysvar's bytes sit at no particular alignment. */
  SolPubkey program;
  sol_memcpy_(&program, program_id, sizeof(program));
  if (!pubkey_eq(&program, &ED25519_PROGRAM_ID) || data_len != ED25519_DATA_LEN) return ERR_INVALID_VOUCHER;

  uint8_t expected[ED25519_KEY_OFFSET + 32];
  expected[0] = 1; /* one signature */
  expected[1] = 0;
  write_u16(expected + 2, ED25519_SIGNATURE_OFFSET);
  write_u16(expected + 4, ED25519_THIS_INSTRUCTION);
  write_u16(expected + 6, ED25519_KEY_OFFSET);
  write_u16(expected + 8, ED25519_THIS_INSTRUCTION);
  write_u16(expected + 10, ED25519_MESSAGE_OFFSET);
  write_u16(expected + 12, VOUCHER_MESSAGE_LEN);
  write_u16(expected + 14, ED25519_THIS_INSTRUCTION);
  sol_memcpy_(expected + ED25519_KEY_OFFSET, authorizer->x, 32);
  if (!bytes_eq(data, expected, sizeof(expected))) return ERR_INVALID_VOUCHER;

  uint8_t message[VOUCHER_MESSAGE_LEN];
  sol_memcpy_(message, VOUCHER_DOMAIN, VOUCHER_DOMAIN_LEN);
  sol_memcpy_(message + VOUCHER_DOMAIN_LEN, channel->x, 32);
  sol_memcpy_(message + VOUCHER_DOMAIN_LEN + 32, &generation, 8);
  sol_memcpy_(message + VOUCHER_DOMAIN_LEN + 40, &amount, 8);
  return bytes_eq(data + ED25519_MESSAGE_OFFSET, message, VOUCHER_MESSAGE_LEN) ? 0 : ERR_INVALID_VOUCHER;
}
