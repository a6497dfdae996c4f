/* The account and arithmetic checks every instruction uses. Each returns 0
 * or a program error code, to be propagated with TRY. Cheap checks (flags,
 * key and discriminator comparisons) come before PDA derivations. */
#pragma once
#include "tessera/context.h"

#define TRY(expr)              \
  do {                         \
    uint64_t err_ = (expr);    \
    if (err_) return err_;     \
  } while (0)

/* The System Program's id is 32 zero bytes. */
static const SolPubkey SYSTEM_PROGRAM_ID = {{0}};

#define BPS_DENOMINATOR 10000
/* Seconds: a year bounds every period a market or a channel sets. */
#define MAX_PERIOD (366LL * 24 * 3600)

static inline bool pubkey_eq(const SolPubkey *a, const SolPubkey *b) {
  const uint64_t *x = (const uint64_t *)a->x, *y = (const uint64_t *)b->x;
  return (x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3]) ? false : true;
}

static inline uint64_t require_accounts(const Context *ctx, uint64_t count) {
  return ctx->account_count < count ? ERR_NOT_ENOUGH_ACCOUNTS : 0;
}

static inline uint64_t require_data_len(const Context *ctx, uint64_t len) {
  return ctx->data_len != len ? ERR_INVALID_INSTRUCTION_DATA : 0;
}

static inline uint64_t require_signer(const SolAccountInfo *account) {
  return account->is_signer ? 0 : ERR_MISSING_SIGNER;
}

static inline uint64_t require_writable(const SolAccountInfo *account) {
  return account->is_writable ? 0 : ERR_ACCOUNT_NOT_WRITABLE;
}

static inline uint64_t require_writable_signer(const SolAccountInfo *account) {
  TRY(require_signer(account));
  return require_writable(account);
}

static inline uint64_t require_system_program(const SolAccountInfo *account) {
  return pubkey_eq(account->key, &SYSTEM_PROGRAM_ID) ? 0 : ERR_INVALID_SYSTEM_PROGRAM;
}

/* What identifies one of the program's account types. */
typedef struct {
  uint64_t discriminator;
  uint64_t len;
} AccountType;

static const AccountType MARKET_TYPE = {MARKET_DISCRIMINATOR, MARKET_LEN};
static const AccountType PROVIDER_TYPE = {PROVIDER_DISCRIMINATOR, PROVIDER_LEN};
static const AccountType JOB_TYPE = {JOB_DISCRIMINATOR, JOB_LEN};
static const AccountType ASSIGNMENT_TYPE = {ASSIGNMENT_DISCRIMINATOR, ASSIGNMENT_LEN};
static const AccountType CHANNEL_TYPE = {CHANNEL_DISCRIMINATOR, CHANNEL_LEN};
static const AccountType EPOCH_TYPE = {EPOCH_DISCRIMINATOR, EPOCH_LEN};

/* Whether `account` is a live account of `type`: owned by the program, of
 * the type's exact size, starting with its discriminator. */
static inline bool is_account_of_type(const Context *ctx, const SolAccountInfo *account, const AccountType *type) {
  return pubkey_eq(account->owner, &ctx->program_id) && account->data_len == type->len &&
         *(const uint64_t *)account->data == type->discriminator;
}

/* Loads an account of one of the program's types. Ownership and the
 * discriminator prove the program created it, and checked its PDA then, so
 * it needs no re-derivation. */
static inline uint64_t load_account(const Context *ctx, const SolAccountInfo *account, const AccountType *type,
                                    bool writable, void **out) {
  if (writable) TRY(require_writable(account));
  if (!pubkey_eq(account->owner, &ctx->program_id)) return ERR_INVALID_ACCOUNT_OWNER;
  if (account->data_len != type->len) return ERR_INVALID_ACCOUNT_DATA;
  if (*(const uint64_t *)account->data != type->discriminator) return ERR_INVALID_DISCRIMINATOR;
  *out = account->data;
  return 0;
}

#define LOAD_MARKET(ctx, account, writable, out) load_account((ctx), (account), &MARKET_TYPE, (writable), (void **)(out))
#define LOAD_PROVIDER(ctx, account, writable, out) \
  load_account((ctx), (account), &PROVIDER_TYPE, (writable), (void **)(out))
#define LOAD_JOB(ctx, account, writable, out) load_account((ctx), (account), &JOB_TYPE, (writable), (void **)(out))
#define LOAD_ASSIGNMENT(ctx, account, writable, out) \
  load_account((ctx), (account), &ASSIGNMENT_TYPE, (writable), (void **)(out))
#define LOAD_CHANNEL(ctx, account, writable, out) \
  load_account((ctx), (account), &CHANNEL_TYPE, (writable), (void **)(out))
#define LOAD_EPOCH(ctx, account, writable, out) load_account((ctx), (account), &EPOCH_TYPE, (writable), (void **)(out))

/* The client's own job, for instructions that take [writable, signer] client
 * and [writable] job and no arguments (cancel_job, refund). */
static inline uint64_t load_clients_job(const Context *ctx, uint64_t account_count, uint64_t data_len, Job **job) {
  TRY(require_accounts(ctx, account_count));
  TRY(require_data_len(ctx, data_len));
  TRY(require_writable_signer(&ctx->accounts[0]));
  TRY(LOAD_JOB(ctx, &ctx->accounts[1], true, job));
  return pubkey_eq(&(*job)->client, ctx->accounts[0].key) ? 0 : ERR_UNAUTHORIZED;
}

/* An account about to be created at a PDA: not yet owned by the program. */
static inline uint64_t require_uninitialized(const SolAccountInfo *account) {
  TRY(require_writable(account));
  if (!pubkey_eq(account->owner, &SYSTEM_PROGRAM_ID) || account->data_len != 0)
    return ERR_ACCOUNT_ALREADY_INITIALIZED;
  return 0;
}

/* Checks `account` is the canonical PDA of `seeds` (the highest bump whose address is off the curve), for an
 * account about to be created with those seeds signing. This is sol_try_find_program_address done by hand: a bump
 * tried costs a sha256 and a curve check, ~320 CU, where the syscall charges 1,500. At most 5 seeds. */
static inline uint64_t require_pda(const Context *ctx, const SolAccountInfo *account,
                                   const SolSignerSeed *seeds, uint64_t seed_count,
                                   uint8_t *bump) {
  SolBytes parts[8];
  uint8_t candidate, address[32], unused;
  if (seed_count > 5) return ERR_INVALID_PDA;
  for (uint64_t i = 0; i < seed_count; i++) parts[i] = (SolBytes){seeds[i].addr, seeds[i].len};
  parts[seed_count] = (SolBytes){&candidate, 1};
  parts[seed_count + 1] = (SolBytes){ctx->program_id.x, sizeof(SolPubkey)};
  parts[seed_count + 2] = (SolBytes){(const uint8_t *)"ProgramDerivedAddress", 21};
  for (int b = 255; b >= 0; b--) {
    candidate = (uint8_t)b;
    sol_sha256(parts, seed_count + 3, address);
    /* The account is created next with these seeds signing (invoke_signed), and the runtime refuses seeds whose
     * address is on the curve: a match needs no curve check of its own. */
    if (pubkey_eq((const SolPubkey *)address, account->key)) {
      *bump = candidate;
      return 0;
    }
    /* Off the curve, this bump is the canonical one, and the account is not its address. */
    if (sol_curve_validate_point(CURVE25519_EDWARDS, address, &unused) != 0) return ERR_INVALID_PDA;
  }
  return ERR_INVALID_PDA;
}

static inline uint64_t checked_add(uint64_t a, uint64_t b, uint64_t *out) {
  return __builtin_add_overflow(a, b, out) ? ERR_ARITHMETIC_OVERFLOW : 0;
}

static inline uint64_t checked_sub(uint64_t a, uint64_t b, uint64_t *out) {
  return __builtin_sub_overflow(a, b, out) ? ERR_ARITHMETIC_OVERFLOW : 0;
}

static inline uint64_t checked_add_u32(uint32_t a, uint64_t b, uint32_t *out) {
  uint64_t sum;
  if (__builtin_add_overflow((uint64_t)a, b, &sum) || sum > 0xffffffffULL) return ERR_ARITHMETIC_OVERFLOW;
  *out = (uint32_t)sum;
  return 0;
}

static inline uint64_t checked_sub_u32(uint32_t a, uint64_t b, uint32_t *out) {
  if (b > a) return ERR_ARITHMETIC_OVERFLOW;
  *out = (uint32_t)(a - b);
  return 0;
}

/* Without 128-bit helpers (SBPF v0 has none), overflow is checked by division. */
static inline uint64_t checked_mul(uint64_t a, uint64_t b, uint64_t *out) {
  if (a != 0) {
    uint64_t limit = ~0ULL / a;
    /* Hide the quotient, or clang folds the check back into a 128-bit multiply. */
    __asm__("" : "+r"(limit));
    if (b > limit) return ERR_ARITHMETIC_OVERFLOW;
  }
  *out = a * b;
  return 0;
}

/* amount × bps / 10000 without overflow (bps ≤ 10000), rounded down or up. */
static inline uint64_t bps_floor(uint64_t amount, uint64_t bps) {
  return amount / BPS_DENOMINATOR * bps + amount % BPS_DENOMINATOR * bps / BPS_DENOMINATOR;
}

static inline uint64_t bps_ceil(uint64_t amount, uint64_t bps) {
  return amount / BPS_DENOMINATOR * bps +
         (amount % BPS_DENOMINATOR * bps + BPS_DENOMINATOR - 1) / BPS_DENOMINATOR;
}

/* Moves lamports out of an account this program owns. */
static inline uint64_t move_lamports(const SolAccountInfo *from, const SolAccountInfo *to, uint64_t amount) {
  /* Debit before reading the credit side: `from` and `to` may be one account. */
  uint64_t from_after, to_after;
  TRY(checked_sub(*from->lamports, amount, &from_after));
  *from->lamports = from_after;
  if (checked_add(*to->lamports, amount, &to_after)) {
    *from->lamports = from_after + amount; /* undone: nothing moved */
    return ERR_ARITHMETIC_OVERFLOW;
  }
  *to->lamports = to_after;
  return 0;
}

/* Closes an account this program owns: all lamports to `destination`, data
 * wiped and shrunk to nothing, ownership back to the System Program, so the
 * runtime deletes it and nothing can revive it as one of ours. */
static inline uint64_t close_account(const SolAccountInfo *account, const SolAccountInfo *destination,
                                     uint64_t *refunded) {
  *refunded = *account->lamports;
  TRY(move_lamports(account, destination, *refunded));
  sol_memset_(account->data, 0, account->data_len);
  /* The serialized data length precedes the data; the runtime reads it back. */
  *(uint64_t *)(account->data - sizeof(uint64_t)) = 0;
  *account->owner = SYSTEM_PROGRAM_ID;
  return 0;
}

static inline uint64_t checked_add_i64(int64_t a, int64_t b, int64_t *out) {
  return __builtin_add_overflow(a, b, out) ? ERR_ARITHMETIC_OVERFLOW : 0;
}

/* An endpoint is printable ASCII without spaces, then zero bytes only. The
 * padding is checked a word at a time: URLs are short, the field is not. */
#define ENDPOINT_LEN 128
static inline uint64_t validate_endpoint(const uint8_t endpoint[ENDPOINT_LEN]) {
  uint64_t i = 0;
  while (i < ENDPOINT_LEN && endpoint[i] > 0x20 && endpoint[i] < 0x7f) i++;
  if (i == 0) return ERR_INVALID_ENDPOINT;
  for (; i < ENDPOINT_LEN && (i & 7); i++)
    if (endpoint[i]) return ERR_INVALID_ENDPOINT;
  const uint64_t *words = (const uint64_t *)endpoint;
  for (i /= 8; i < ENDPOINT_LEN / 8; i++)
    if (words[i]) return ERR_INVALID_ENDPOINT;
  return 0;
}

static inline int64_t clock_unix_timestamp(void) {
  SolClock clock;
  sol_get_clock_sysvar(&clock);
  return clock.unix_timestamp;
}

/* Lamports an account of `data_len` bytes needs to be rent-exempt. */
static inline uint64_t rent_minimum(const SolRent *rent, uint64_t data_len, uint64_t *out) {
  if (rent->exemption_threshold_bits != RENT_EXEMPTION_THRESHOLD_2_0_BITS) return ERR_UNSUPPORTED_RENT;
  /* Compared by division: a checked 64-bit multiply needs 128-bit helpers
   * that SBPF v0 lacks. */
  uint64_t bytes = data_len + ACCOUNT_STORAGE_OVERHEAD;
  if (rent->lamports_per_byte_year > (~0ULL / 2) / bytes) return ERR_ARITHMETIC_OVERFLOW;
  *out = bytes * rent->lamports_per_byte_year * 2;
  return 0;
}

static inline uint64_t rent_exempt_minimum(uint64_t data_len, uint64_t *out) {
  SolRent rent;
  sol_get_rent_sysvar(&rent);
  return rent_minimum(&rent, data_len, out);
}
