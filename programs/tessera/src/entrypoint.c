/* Parses the runtime's input buffer and dispatches on the instruction's
 * Anchor discriminator. Nothing else happens here. */
#include "tessera/checks.h"
#include "tessera/instructions.h"

void *memcpy(void *dst, const void *src, uint64_t len) {
  sol_memcpy_(dst, src, len);
  return dst;
}

void *memset(void *dst, int value, uint64_t len) {
  sol_memset_(dst, (uint8_t)value, len);
  return dst;
}

/* Input layout (SBPF v0, aligned): u64 account count; per account a dup
 * marker, flags, key, owner, lamports, data, realloc room, rent epoch; then
 * the instruction data and the program id. An account named twice (a
 * treasury that is also the verifier, a client that also provides) is one
 * account: its second entry aliases the first, so every write lands once.
 * The runtime writes only an index below the entry's own. */
static uint64_t parse_input(const uint8_t *input, Context *ctx) {
  uint64_t count = *(const uint64_t *)input;
  input += sizeof(uint64_t);
  if (count > MAX_ACCOUNTS) return ERR_TOO_MANY_ACCOUNTS;
  for (uint64_t i = 0; i < count; i++) {
    SolAccountInfo *account = &ctx->accounts[i];
    if (input[0] != NON_DUP_MARKER) {
      if (input[0] >= i) return ERR_DUPLICATE_ACCOUNT;
      *account = ctx->accounts[input[0]];
      input += 8;
      continue;
    }
    account->is_signer = input[1];
    account->is_writable = input[2];
    account->executable = input[3];
    input += 8;
    account->key = (SolPubkey *)input;
    input += sizeof(SolPubkey);
    account->owner = (SolPubkey *)input;
    input += sizeof(SolPubkey);
    account->lamports = (uint64_t *)input;
    input += sizeof(uint64_t);
    account->data_len = *(const uint64_t *)input;
    input += sizeof(uint64_t);
    account->data = (uint8_t *)input;
    input += account->data_len + MAX_PERMITTED_DATA_INCREASE;
    input = (const uint8_t *)(((uint64_t)input + 7) & ~7ULL);
    account->rent_epoch = *(const uint64_t *)input;
    input += sizeof(uint64_t);
  }
  ctx->account_count = count;
  ctx->data_len = *(const uint64_t *)input;
  input += sizeof(uint64_t);
  ctx->data = input;
  sol_memcpy_(&ctx->program_id, input + ctx->data_len, sizeof(SolPubkey));
  return 0;
}

uint64_t entrypoint(const uint8_t *input) {
  Context ctx;
  TRY(parse_input(input, &ctx));
  if (ctx.data_len < sizeof(uint64_t)) return ERR_UNKNOWN_INSTRUCTION;
  switch (*(const uint64_t *)ctx.data) {
    case IX_INITIALIZE_MARKET: return process_initialize_market(&ctx);
    case IX_UPDATE_MARKET: return process_update_market(&ctx);
    case IX_REGISTER_PROVIDER: return process_register_provider(&ctx);
    case IX_ADD_STAKE: return process_add_stake(&ctx);
    case IX_REQUEST_UNSTAKE: return process_request_unstake(&ctx);
    case IX_WITHDRAW_STAKE: return process_withdraw_stake(&ctx);
    case IX_UPDATE_PROVIDER: return process_update_provider(&ctx);
    case IX_CREATE_JOB: return process_create_job(&ctx);
    case IX_SUBMIT_RESULTS: return process_submit_results(&ctx);
    case IX_SETTLE: return process_settle(&ctx);
    case IX_SLASH: return process_slash(&ctx);
    case IX_CANCEL_JOB: return process_cancel_job(&ctx);
    case IX_REFUND: return process_refund(&ctx);
    case IX_CLOSE_JOB: return process_close_job(&ctx);
    case IX_CLOSE_ASSIGNMENT: return process_close_assignment(&ctx);
    case IX_SERVE_CACHED: return process_serve_cached(&ctx);
    case IX_UNWIND_ASSIGNMENT: return process_unwind_assignment(&ctx);
    case IX_OPEN_CHANNEL: return process_open_channel(&ctx);
    case IX_TOP_UP_CHANNEL: return process_top_up_channel(&ctx);
    case IX_CLAIM_CHANNEL: return process_claim_channel(&ctx);
    case IX_REQUEST_WITHDRAW: return process_request_withdraw(&ctx);
    case IX_WITHDRAW: return process_withdraw(&ctx);
    case IX_OPEN_EPOCH: return process_open_epoch(&ctx);
    case IX_CLAIM_EPOCH: return process_claim_epoch(&ctx);
    default: return ERR_UNKNOWN_INSTRUCTION;
  }
}
