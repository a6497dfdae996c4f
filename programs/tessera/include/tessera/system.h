/* Cross-program calls into the System Program. */
#pragma once
#include "tessera/checks.h"

#define SYSTEM_CREATE_ACCOUNT 0
#define SYSTEM_ASSIGN 1
#define SYSTEM_TRANSFER 2
#define SYSTEM_ALLOCATE 8

/* System instruction data is bincode: a u32 tag then unaligned fields. */
typedef struct __attribute__((packed)) {
  uint32_t tag;
  uint64_t lamports;
  uint64_t space;
  SolPubkey owner;
} SystemCreateAccountData;

typedef struct __attribute__((packed)) {
  uint32_t tag;
  uint64_t value; /* lamports for Transfer, space for Allocate */
} SystemU64Data;

typedef struct __attribute__((packed)) {
  uint32_t tag;
  SolPubkey owner;
} SystemAssignData;

/* An account this program creates at a PDA. */
typedef struct {
  uint64_t space;            /* bytes of data */
  uint64_t lamports;         /* in all: rent plus anything it holds from the start */
  SolSignerSeeds signer;     /* the PDA's seeds, bump last */
} NewAccount;

/* Calls the System Program with `count` (1 or 2) accounts, all writable;
 * the first always signs, the second when `second_signs`. */
static inline uint64_t invoke_system(const SolAccountInfo *accounts, uint64_t count,
                                     bool second_signs, const SolBytes *data,
                                     const SolSignerSeeds *signer) {
  SolAccountMeta metas[2] = {
      {accounts[0].key, true, true},
      {count > 1 ? accounts[1].key : NULL, true, second_signs},
  };
  SolInstruction instruction = {(SolPubkey *)&SYSTEM_PROGRAM_ID, metas, count,
                                (uint8_t *)data->addr, data->len};
  return sol_invoke_signed_c(&instruction, accounts, (int)count, signer, signer ? 1 : 0);
}

/* Moves lamports from a signing wallet. */
static inline uint64_t system_transfer(const SolAccountInfo *from, const SolAccountInfo *to,
                                       uint64_t lamports) {
  SolAccountInfo accounts[2] = {*from, *to};
  SystemU64Data data = {SYSTEM_TRANSFER, lamports};
  SolBytes bytes = {(const uint8_t *)&data, sizeof(data)};
  return invoke_system(accounts, 2, false, &bytes, NULL);
}

/* Creates `target` at its PDA, owned by this program. An attacker may have
 * sent lamports to the address beforehand, which makes CreateAccount fail;
 * then the account is topped up, allocated and assigned instead, so no one
 * can block a creation. */
static inline uint64_t create_pda_account(const Context *ctx, const SolAccountInfo *payer,
                                          const SolAccountInfo *target, const NewAccount *new_account) {
  SolAccountInfo accounts[2] = {*payer, *target};
  uint64_t existing = *target->lamports;
  if (existing == 0) {
    SystemCreateAccountData data = {SYSTEM_CREATE_ACCOUNT, new_account->lamports, new_account->space,
                                    ctx->program_id};
    SolBytes bytes = {(const uint8_t *)&data, sizeof(data)};
    return invoke_system(accounts, 2, true, &bytes, &new_account->signer);
  }
  if (existing < new_account->lamports)
    TRY(system_transfer(payer, target, new_account->lamports - existing));
  SystemU64Data allocate = {SYSTEM_ALLOCATE, new_account->space};
  SolBytes allocate_bytes = {(const uint8_t *)&allocate, sizeof(allocate)};
  TRY(invoke_system(&accounts[1], 1, false, &allocate_bytes, &new_account->signer));
  SystemAssignData assign = {SYSTEM_ASSIGN, ctx->program_id};
  SolBytes assign_bytes = {(const uint8_t *)&assign, sizeof(assign)};
  return invoke_system(&accounts[1], 1, false, &assign_bytes, &new_account->signer);
}
