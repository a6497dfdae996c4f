/* The Solana runtime ABI for SBPF v0 programs: the C SDK's structs and the
 * syscalls Tessera uses. Syscall names resolve at load time (the loader
 * writes murmur3(name) into each call), so a misspelt name fails the build's
 * link step, not the chain. */
#pragma once

typedef signed char int8_t;
typedef unsigned char uint8_t;
typedef signed short int16_t;
typedef unsigned short uint16_t;
typedef signed int int32_t;
typedef unsigned int uint32_t;
typedef unsigned long long uint64_t;
typedef signed long long int64_t;
typedef _Bool bool;
#define true 1
#define false 0
#define NULL ((void *)0)
#define offsetof(type, member) __builtin_offsetof(type, member)

/* Aligned to 8 so that comparing two keys is four 64-bit loads; the IDL
 * generator places every public key at an 8-byte offset for this reason. */
typedef struct {
  uint8_t x[32];
} __attribute__((aligned(8))) SolPubkey;

/* Layout fixed by the runtime's C ABI: CPI account infos point into the input. */
typedef struct {
  SolPubkey *key;
  uint64_t *lamports;
  uint64_t data_len;
  uint8_t *data;
  SolPubkey *owner;
  uint64_t rent_epoch;
  bool is_signer;
  bool is_writable;
  bool executable;
} SolAccountInfo;

typedef struct {
  SolPubkey *pubkey;
  bool is_writable;
  bool is_signer;
} SolAccountMeta;

typedef struct {
  SolPubkey *program_id;
  SolAccountMeta *accounts;
  uint64_t account_len;
  uint8_t *data;
  uint64_t data_len;
} SolInstruction;

typedef struct {
  const uint8_t *addr;
  uint64_t len;
} SolSignerSeed;

typedef struct {
  const SolSignerSeed *addr;
  uint64_t len;
} SolSignerSeeds;

typedef struct {
  const uint8_t *addr;
  uint64_t len;
} SolBytes;

typedef struct {
  uint64_t slot;
  int64_t epoch_start_timestamp;
  uint64_t epoch;
  uint64_t leader_schedule_epoch;
  int64_t unix_timestamp;
} SolClock;

/* exemption_threshold is an f64 in the sysvar; SBPF v0 has no floating point,
 * so the program reads its bits and supports the value every cluster uses. */
typedef struct {
  uint64_t lamports_per_byte_year;
  uint64_t exemption_threshold_bits;
  uint8_t burn_percent;
} SolRent;

#define RENT_EXEMPTION_THRESHOLD_2_0_BITS 0x4000000000000000ULL
/* Bytes the runtime charges rent for on top of an account's data. */
#define ACCOUNT_STORAGE_OVERHEAD 128
/* Room the runtime leaves after each account's data for realloc. */
#define MAX_PERMITTED_DATA_INCREASE 10240
/* Marks an account entry of the input that is not a duplicate. */
#define NON_DUP_MARKER 0xff
/* Seeds a PDA can have, as the runtime limits them. */
#define MAX_SEEDS 16

void sol_log_(const char *message, uint64_t len);
void sol_log_data(const SolBytes *fields, uint64_t count);
uint64_t sol_get_clock_sysvar(SolClock *clock);
uint64_t sol_get_rent_sysvar(SolRent *rent);
/* 0 when the 32 bytes are a point of the curve: an address with a private key, not a PDA. */
uint64_t sol_curve_validate_point(uint64_t curve_id, const uint8_t *point, uint8_t *result);
#define CURVE25519_EDWARDS 0
uint64_t sol_invoke_signed_c(const SolInstruction *instruction, const SolAccountInfo *accounts,
                             int account_count, const SolSignerSeeds *signers, int signer_count);
void sol_memcpy_(void *dst, const void *src, uint64_t len);
void sol_memcmp_(const void *a, const void *b, uint64_t len, int *result);
void sol_memset_(void *dst, uint8_t value, uint64_t len);

/* clang lowers struct copies to these; forward them to the cheaper syscalls. */
void *memcpy(void *dst, const void *src, uint64_t len);
void *memset(void *dst, int value, uint64_t len);

uint64_t sol_sha256(const SolBytes *values, uint64_t count, uint8_t *result);
