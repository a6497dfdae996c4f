/* settle(seed, entries): pays or rejects pending assignments
 *   0-4. verifier, market, job, client, treasury: see settlement.c
 *   then per entry i, from 5 + 3i:
 *      [writable] assignment, [writable] provider, [writable] provider's owner */
#define SETTLE_ACCOUNTS_PER_ENTRY 3
#define MAX_SETTLE_ENTRIES ((MAX_ACCOUNTS - SETTLE_ACCOUNTS) / SETTLE_ACCOUNTS_PER_ENTRY)

/* A slash needs its evidence: it goes through the slash instruction, never a settle entry. */
static uint64_t settle_entry(const Settlement *s, const SettlementEntry *entry, uint64_t index) {
  const SolAccountInfo *first = &s->ctx->accounts[SETTLE_ACCOUNTS + SETTLE_ACCOUNTS_PER_ENTRY * index];
  Settled accounts = {first, first + 1, first + 2, NULL, NULL};
  Bitmap accepted;
  uint64_t slashed;
  if (entry->verdict == VERDICT_SLASH) return ERR_SLASH_NEEDS_EVIDENCE;
  TRY(load_settled(s, &accounts));
  /* Entries are 33 bytes apart in the instruction data: copy to align. */
  sol_memcpy_(&accepted, entry->accepted, sizeof(accepted));
  Judgement judgement = {entry->verdict, &accepted, 0};
  return settle_assignment(s, &accounts, &judgement, &slashed);
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
  Settlement s;

  TRY(load_settlement(ctx, &s));
  TRY(reveal_seed(&s, args->seed));
  /* The transaction is atomic: an entry that fails undoes the ones before. */
  for (uint64_t i = 0; i < count; i++) TRY(settle_entry(&s, &args->entries[i], i));
  return 0;
}
