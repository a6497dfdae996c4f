/* settle(seed, entries)
 *   0. [signer] verifier: the market's verifier
 *   1. [writable] market: total stake shrinks on a slash
 *   2. [writable] job
 *   3. [writable] client: the job's client, receives its share of slashes
 *   4. [writable] treasury: the market's treasury
 *   then per entry i, from 5 + 3i:
 *      [writable] assignment, [writable] provider, [writable] provider's owner */
#include "tessera/bitmap.h"
#include "tessera/events.h"

#define SETTLE_ACCOUNTS_PER_ENTRY 3
#define MAX_SETTLE_ENTRIES ((MAX_ACCOUNTS - SETTLE_ACCOUNTS) / SETTLE_ACCOUNTS_PER_ENTRY)
/* The client's share of a slash, the rest going to the treasury. */
#define SLASH_CLIENT_SHARE_BPS 5000

typedef struct {
  const Context *ctx;
  Market *market;
  Job *job;
  const SolAccountInfo *job_account;
  const SolAccountInfo *client;
  const SolAccountInfo *treasury;
} Settlement;

/* What one entry moves, computed before anything is written. */
typedef struct {
  uint64_t paid;       /* lamports to the provider's owner */
  uint64_t fee;        /* lamports to the treasury */
  uint64_t slashed;    /* lamports out of the provider's stake */
  uint64_t accepted;   /* shards paid */
  uint64_t pending;    /* shards the submission named */
} Outcome;

static uint64_t settle_entry(const Settlement *s, const SettlementEntry *entry, uint64_t index) {
  const SolAccountInfo *assignment_account = &s->ctx->accounts[SETTLE_ACCOUNTS + SETTLE_ACCOUNTS_PER_ENTRY * index];
  const SolAccountInfo *provider_account = assignment_account + 1;
  const SolAccountInfo *owner = assignment_account + 2;
  Job *job = s->job;
  Assignment *assignment;
  Provider *provider;
  Bitmap accepted;
  Outcome o;

  TRY(LOAD_ASSIGNMENT(s->ctx, assignment_account, true, &assignment));
  TRY(LOAD_PROVIDER(s->ctx, provider_account, true, &provider));
  TRY(require_writable(owner));
  if (!pubkey_eq(&assignment->job, s->job_account->key) || !pubkey_eq(&assignment->provider, provider_account->key))
    return ERR_WRONG_JOB;
  if (!pubkey_eq(&provider->owner, owner->key)) return ERR_UNAUTHORIZED;
  if (assignment->status != ASSIGNMENT_STATUS_PENDING) return ERR_ASSIGNMENT_NOT_PENDING;
  /* Entries are 33 bytes apart in the instruction data: copy to align. */
  sol_memcpy_(&accepted, entry->accepted, sizeof(accepted));
  const Bitmap *pending = AS_BITMAP(assignment->pending_shards);
  o.accepted = bitmap_count(&accepted);
  o.pending = bitmap_count(pending);
  if (!bitmap_is_subset(&accepted, pending)) return ERR_INVALID_ACCEPTED_SHARDS;
  if (entry->verdict == VERDICT_PAY) {
    if (o.accepted == 0) return ERR_INVALID_ACCEPTED_SHARDS;
  } else if (entry->verdict == VERDICT_REJECT) {
    if (o.accepted != 0) return ERR_INVALID_ACCEPTED_SHARDS;
  } else if (entry->verdict != VERDICT_SLASH) {
    return ERR_INVALID_VERDICT;
  }

  uint64_t executions, escrow, locked, served;
  TRY(checked_add(job->executions_paid, o.accepted, &executions));
  if (executions > job->execution_budget) return ERR_BUDGET_EXCEEDED;
  TRY(checked_mul(o.accepted, job->price_per_shard, &o.paid));
  o.fee = bps_floor(o.paid, job->fee_bps);
  TRY(checked_sub(job->escrow, o.paid + o.fee, &escrow));
  TRY(checked_sub(provider->locked_stake, assignment->collateral, &locked));
  TRY(checked_add(provider->shards_served, o.accepted, &served));
  o.slashed = 0;
  uint64_t from_stake = 0, from_unbonding = 0;
  if (entry->verdict == VERDICT_SLASH) {
    /* Stake stays slashable until it is withdrawn: a cheater that asks to unstake (even in the transaction
     * that submitted its work) shrinks neither the share taken nor what it is taken from. At least the
     * collateral, at most what no other open work has locked; bonded stake first, then unbonding. */
    uint64_t slashable, share;
    TRY(checked_add(provider->stake, provider->unbonding_stake, &slashable));
    share = bps_floor(slashable, s->market->slash_bps);
    o.slashed = share > assignment->collateral ? share : assignment->collateral;
    if (o.slashed > slashable - locked) o.slashed = slashable - locked;
    from_stake = o.slashed < provider->stake - locked ? o.slashed : provider->stake - locked;
    from_unbonding = o.slashed - from_stake; /* at most unbonding_stake: see the cap above */
  }

  TRY(move_lamports(s->job_account, owner, o.paid));
  TRY(move_lamports(s->job_account, s->treasury, o.fee));
  if (o.slashed) {
    uint64_t to_client = bps_floor(o.slashed, SLASH_CLIENT_SHARE_BPS);
    TRY(move_lamports(provider_account, s->client, to_client));
    TRY(move_lamports(provider_account, s->treasury, o.slashed - to_client));
    provider->stake -= from_stake; /* at most stake - locked: see above */
    provider->unbonding_stake -= from_unbonding;
    TRY(checked_add(provider->shards_slashed, o.pending - o.accepted, &provider->shards_slashed));
    TRY(checked_sub(s->market->total_stake, from_stake, &s->market->total_stake));
  }
  job->escrow = escrow;
  job->executions_paid = (uint32_t)executions; /* at most execution_budget, a u32 */
  TRY(checked_sub_u32(job->pending_shards, o.pending, &job->pending_shards));
  TRY(checked_sub_u32(job->pending_assignments, 1, &job->pending_assignments));
  bitmap_add(AS_BITMAP(job->paid_shards), &accepted);
  provider->locked_stake = locked;
  provider->shards_served = served;
  bitmap_add(AS_BITMAP(assignment->paid_shards), &accepted);
  assignment->collateral = 0;
  assignment->status = ASSIGNMENT_STATUS_SETTLED;
  assignment->last_verdict = entry->verdict;

  AssignmentSettledEvent event = {EVENT_ASSIGNMENT_SETTLED_DISCRIMINATOR, *s->job_account->key, *provider_account->key};
  sol_memcpy_(event.accepted, &accepted, sizeof(accepted));
  event.paid = o.paid;
  event.fee = o.fee;
  event.slashed = o.slashed;
  event.verdict = entry->verdict;
  emit_event(&event, EVENT_ASSIGNMENT_SETTLED_LEN);
  return 0;
}

/* An all-zero seed reveals nothing: the verifier keeps the seed until nothing more can be submitted, so no
 * provider learns whether its work is sampled before it has committed it. */
static bool seed_withheld(const uint8_t seed[32]) {
  uint8_t any = 0;
  for (int i = 0; i < 32; i++) any |= seed[i];
  return any == 0;
}

static uint64_t reveal_seed(const Settlement *s, const uint8_t seed[32]) {
  if (seed_withheld(seed)) return 0;
  uint8_t digest[32];
  SolBytes input = {seed, 32};
  sol_sha256(&input, 1, digest);
  const SolPubkey *commitment = (const SolPubkey *)s->job->seed_commitment;
  if (!pubkey_eq((const SolPubkey *)digest, commitment)) return ERR_SEED_MISMATCH;
  if (s->job->seed_revealed) return 0;
  sol_memcpy_(s->job->revealed_seed, seed, 32);
  s->job->seed_revealed = 1;
  SeedRevealedEvent event = {EVENT_SEED_REVEALED_DISCRIMINATOR, *s->job_account->key};
  sol_memcpy_(event.seed, seed, 32);
  emit_event(&event, EVENT_SEED_REVEALED_LEN);
  return 0;
}

static uint64_t process_settle(const Context *ctx) {
  TRY(require_accounts(ctx, SETTLE_ACCOUNTS));
  if (ctx->data_len < SETTLE_DATA_LEN) return ERR_INVALID_INSTRUCTION_DATA;
  const SettleArgs *args = (const SettleArgs *)ctx->data;
  uint64_t count = args->entries_len;
  if (count > MAX_SETTLE_ENTRIES) return ERR_TOO_MANY_ENTRIES;
  TRY(require_data_len(ctx, SETTLE_DATA_LEN + count * SETTLE_ENTRIES_ITEM_LEN));
  TRY(require_accounts(ctx, SETTLE_ACCOUNTS + count * SETTLE_ACCOUNTS_PER_ENTRY));
  const SolAccountInfo *verifier = &ctx->accounts[0];
  Settlement s = {ctx, NULL, NULL, &ctx->accounts[2], &ctx->accounts[3], &ctx->accounts[4]};

  TRY(require_signer(verifier));
  TRY(LOAD_MARKET(ctx, &ctx->accounts[1], true, &s.market));
  TRY(LOAD_JOB(ctx, s.job_account, true, &s.job));
  TRY(require_writable(s.client));
  TRY(require_writable(s.treasury));
  if (!pubkey_eq(&s.market->verifier, verifier->key)) return ERR_UNAUTHORIZED;
  if (!pubkey_eq(&s.job->market, ctx->accounts[1].key) || !pubkey_eq(&s.market->treasury, s.treasury->key))
    return ERR_WRONG_MARKET;
  if (!pubkey_eq(&s.job->client, s.client->key)) return ERR_WRONG_JOB;
  TRY(reveal_seed(&s, args->seed));
  /* The transaction is atomic: an entry that fails undoes the ones before. */
  for (uint64_t i = 0; i < count; i++) TRY(settle_entry(&s, &args->entries[i], i));
  return 0;
}
