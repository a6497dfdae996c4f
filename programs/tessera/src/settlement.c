/* What settle and slash share: the accounts every verdict names, and how a verdict on one pending assignment moves
 * lamports. Everything is computed and checked before anything is written. */
#include "tessera/bitmap.h"
#include "tessera/events.h"

/* The client's share of a slash, the rest going to the treasury. */
#define SLASH_CLIENT_SHARE_BPS 5000

/* Accounts 0-4 of settle and slash. */
typedef struct {
  const Context *ctx;
  Market *market;
  Job *job;
  const SolAccountInfo *job_account;
  const SolAccountInfo *client;
  const SolAccountInfo *treasury;
  Epoch *epoch; /* an epoch job's client, else NULL */
} Settlement;

/* An assignment and the accounts its verdict moves lamports between; load_settled fills in the views. */
typedef struct {
  const SolAccountInfo *assignment;
  const SolAccountInfo *provider;
  const SolAccountInfo *owner;
  Assignment *assignment_data;
  Provider *provider_data;
} Settled;

/*   0. [signer] verifier: the market's verifier
 *   1. [writable] market: total stake shrinks on a slash
 *   2. [writable] job
 *   3. [writable] client: the job's client, receives its share of slashes (an epoch job's: its epoch, which
 *      credits the channel whose shard was faulty)
 *   4. [writable] treasury: the market's treasury */
static uint64_t load_settlement(const Context *ctx, Settlement *s) {
  const SolAccountInfo *verifier = &ctx->accounts[0];
  s->ctx = ctx;
  s->job_account = &ctx->accounts[2];
  s->client = &ctx->accounts[3];
  s->treasury = &ctx->accounts[4];
  TRY(require_signer(verifier));
  TRY(LOAD_MARKET(ctx, &ctx->accounts[1], true, &s->market));
  TRY(LOAD_JOB(ctx, s->job_account, true, &s->job));
  TRY(require_writable(s->client));
  TRY(require_writable(s->treasury));
  if (!pubkey_eq(&s->market->verifier, verifier->key)) return ERR_UNAUTHORIZED;
  if (!pubkey_eq(&s->job->market, ctx->accounts[1].key) || !pubkey_eq(&s->market->treasury, s->treasury->key))
    return ERR_WRONG_MARKET;
  if (!pubkey_eq(&s->job->client, s->client->key)) return ERR_WRONG_JOB;
  s->epoch = NULL;
  return s->job->is_epoch ? load_epoch_of(ctx, s->client, s->job_account, s->job, &s->epoch) : 0;
}

/* Loads a pending assignment of the settlement's job with its provider and the provider's owner. */
static uint64_t load_settled(const Settlement *s, Settled *accounts) {
  TRY(LOAD_ASSIGNMENT(s->ctx, accounts->assignment, true, &accounts->assignment_data));
  TRY(LOAD_PROVIDER(s->ctx, accounts->provider, true, &accounts->provider_data));
  TRY(require_writable(accounts->owner));
  const Assignment *assignment = accounts->assignment_data;
  if (!pubkey_eq(&assignment->job, s->job_account->key) || !pubkey_eq(&assignment->provider, accounts->provider->key))
    return ERR_WRONG_JOB;
  if (!pubkey_eq(&accounts->provider_data->owner, accounts->owner->key)) return ERR_UNAUTHORIZED;
  if (assignment->status != ASSIGNMENT_STATUS_PENDING) return ERR_ASSIGNMENT_NOT_PENDING;
  return 0;
}

/* What one verdict moves, computed before anything is written. */
typedef struct {
  uint64_t paid;       /* lamports to the provider's owner */
  uint64_t fee;        /* lamports to the treasury */
  uint64_t slashed;    /* lamports out of the provider's stake */
  uint64_t accepted;   /* shards paid */
  uint64_t pending;    /* shards the submission named */
} Outcome;

/* A verdict on one assignment: the shards it pays and, for a slash, the shard its evidence names. */
typedef struct {
  uint8_t verdict;
  const Bitmap *accepted;
  uint64_t faulty_shard;
} Judgement;

/* Pays the accepted shards of a pending assignment (loaded by load_settled) and, for a slash, takes the penalty;
 * returns what was slashed. */
static uint64_t settle_assignment(const Settlement *s, const Settled *accounts, const Judgement *judgement,
                                  uint64_t *slashed) {
  uint8_t verdict = judgement->verdict;
  const Bitmap *accepted = judgement->accepted;
  Job *job = s->job;
  Assignment *assignment = accounts->assignment_data;
  Provider *provider = accounts->provider_data;
  Outcome o;

  const Bitmap *pending = AS_BITMAP(assignment->pending_shards);
  o.accepted = bitmap_count(accepted);
  o.pending = bitmap_count(pending);
  if (!bitmap_is_subset(accepted, pending)) return ERR_INVALID_ACCEPTED_SHARDS;
  if (verdict == VERDICT_PAY) {
    if (o.accepted == 0) return ERR_INVALID_ACCEPTED_SHARDS;
  } else if (verdict == VERDICT_REJECT) {
    if (o.accepted != 0) return ERR_INVALID_ACCEPTED_SHARDS;
  } else if (verdict != VERDICT_SLASH) {
    return ERR_INVALID_VERDICT;
  }

  uint64_t executions, escrow, locked, served;
  TRY(checked_add(job->executions_paid, o.accepted, &executions));
  if (executions > job->execution_budget) return ERR_BUDGET_EXCEEDED;
  EpochCharges charges;
  EpochEntry *faulty_entry = NULL;
  if (s->epoch) {
    TRY(epoch_charges(s->epoch, job, accepted, o.accepted, &charges));
    if (verdict == VERDICT_SLASH) TRY(epoch_entry_of(s->epoch, judgement->faulty_shard, &faulty_entry));
    o.paid = charges.paid;
    o.fee = charges.fee;
  } else {
    TRY(checked_mul(o.accepted, job->price_per_shard, &o.paid));
    o.fee = bps_floor(o.paid, job->fee_bps);
  }
  TRY(checked_sub(job->escrow, o.paid + o.fee, &escrow));
  TRY(checked_sub(provider->locked_stake, assignment->collateral, &locked));
  TRY(checked_add(provider->shards_served, o.accepted, &served));
  o.slashed = 0;
  uint64_t from_stake = 0, from_unbonding = 0;
  if (verdict == VERDICT_SLASH) {
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

  TRY(move_lamports(s->job_account, accounts->owner, o.paid));
  TRY(move_lamports(s->job_account, s->treasury, o.fee));
  if (o.slashed) {
    uint64_t to_client = bps_floor(o.slashed, SLASH_CLIENT_SHARE_BPS);
    TRY(move_lamports(accounts->provider, s->client, to_client));
    if (faulty_entry) TRY(checked_add(faulty_entry->credit, to_client, &faulty_entry->credit));
    TRY(move_lamports(accounts->provider, s->treasury, o.slashed - to_client));
    provider->stake -= from_stake; /* at most stake - locked: see above */
    provider->unbonding_stake -= from_unbonding;
    TRY(checked_add(provider->shards_slashed, o.pending - o.accepted, &provider->shards_slashed));
    TRY(checked_sub(s->market->total_stake, from_stake, &s->market->total_stake));
  }
  if (s->epoch) apply_epoch_charges(s->epoch, &charges);
  job->escrow = escrow;
  job->executions_paid = (uint32_t)executions; /* at most execution_budget, a u32 */
  TRY(checked_sub_u32(job->pending_shards, o.pending, &job->pending_shards));
  TRY(checked_sub_u32(job->pending_assignments, 1, &job->pending_assignments));
  bitmap_add(AS_BITMAP(job->paid_shards), accepted);
  provider->locked_stake = locked;
  provider->shards_served = served;
  bitmap_add(AS_BITMAP(assignment->paid_shards), accepted);
  assignment->collateral = 0;
  assignment->status = ASSIGNMENT_STATUS_SETTLED;
  assignment->last_verdict = verdict;

  AssignmentSettledEvent event = {EVENT_ASSIGNMENT_SETTLED_DISCRIMINATOR, *s->job_account->key, *accounts->provider->key};
  sol_memcpy_(event.accepted, accepted, sizeof(*accepted));
  event.paid = o.paid;
  event.fee = o.fee;
  event.slashed = o.slashed;
  event.verdict = verdict;
  emit_event(&event, EVENT_ASSIGNMENT_SETTLED_LEN);
  *slashed = o.slashed;
  return 0;
}
