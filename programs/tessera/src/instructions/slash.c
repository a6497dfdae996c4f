/* slash(accepted, shard, committed_digest, referee_digest, proof): settles one pending assignment as a fault, with
 * the evidence anyone can audit: the digest the provider committed for `shard`, proven against its assignment's
 * results root, and the referee's different digest. The accepted shards are still paid.
 *   0-4. verifier, market, job, client, treasury: see settlement.c
 *   5. [writable] assignment
 *   6. [writable] provider: its stake is slashed
 *   7. [writable] provider's owner: paid for the accepted shards */
#include "tessera/merkle.h"

static uint64_t process_slash(const Context *ctx) {
  TRY(require_accounts(ctx, SLASH_ACCOUNTS));
  TRY(require_data_len(ctx, SLASH_DATA_LEN));
  const SlashArgs *args = (const SlashArgs *)ctx->data;
  Settled accounts = {&ctx->accounts[5], &ctx->accounts[6], &ctx->accounts[7], NULL, NULL};
  Settlement s;
  Bitmap accepted;
  uint64_t slashed;

  TRY(load_settlement(ctx, &s));
  TRY(load_settled(&s, &accounts));
  const Assignment *assignment = accounts.assignment_data;
  sol_memcpy_(&accepted, args->accepted, sizeof(accepted));
  /* The shard must be one this submission claimed and the slash does not pay; the referee must disagree. */
  const Bitmap *pending = AS_BITMAP(assignment->pending_shards);
  if (args->shard >= MAX_SHARDS || !bitmap_has(pending, args->shard) || bitmap_has(&accepted, args->shard))
    return ERR_INVALID_EVIDENCE;
  if (pubkey_eq((const SolPubkey *)args->committed_digest, (const SolPubkey *)args->referee_digest))
    return ERR_INVALID_EVIDENCE;
  /* Leaves are the submission's digests in shard order, so the leaf's place is the shard's rank. */
  MerkleLeaf leaf = {args->committed_digest, bitmap_rank(pending, args->shard), bitmap_count(pending)};
  if (!merkle_proves(&leaf, args->proof, assignment->results_root)) return ERR_INVALID_EVIDENCE;
  Judgement judgement = {VERDICT_SLASH, &accepted, args->shard};
  TRY(settle_assignment(&s, &accounts, &judgement, &slashed));

  AssignmentSlashedEvent event = {EVENT_ASSIGNMENT_SLASHED_DISCRIMINATOR, *s.job_account->key, *accounts.provider->key};
  event.shard = args->shard;
  sol_memcpy_(event.committed_digest, args->committed_digest, 32);
  sol_memcpy_(event.referee_digest, args->referee_digest, 32);
  sol_memcpy_(event.results_root, assignment->results_root, 32);
  event.slashed = slashed;
  emit_event(&event, EVENT_ASSIGNMENT_SLASHED_LEN);
  return 0;
}
