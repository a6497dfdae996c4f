/* Epoch jobs: one job for many payment channels, each paying for a contiguous
 * range of its shards (claim_epoch). Every lamport a verdict takes out of the
 * escrow is charged to the channel whose shards it pays, with the fee rounded
 * on that channel's share, so when the job closes each channel gets back
 * exactly what it paid in and was not spent on its own shards. */
#include "tessera/bitmap.h"

#define EPOCH_ENTRIES (sizeof(((Epoch *)0)->entries) / sizeof(EpochEntry))

/* The epoch of an epoch job: the job's client, recording the job. */
static uint64_t load_epoch_of(const Context *ctx, const SolAccountInfo *epoch_account,
                              const SolAccountInfo *job_account, const Job *job, Epoch **epoch) {
  if (!job->is_epoch || !pubkey_eq(&job->client, epoch_account->key)) return ERR_WRONG_EPOCH;
  TRY(LOAD_EPOCH(ctx, epoch_account, true, epoch));
  return pubkey_eq(&(*epoch)->job, job_account->key) ? 0 : ERR_WRONG_EPOCH;
}

/* What one verdict's accepted shards cost each channel. */
typedef struct {
  uint64_t paid;
  uint64_t fee;
  uint32_t executions[EPOCH_ENTRIES];
  uint64_t spent[EPOCH_ENTRIES];
} EpochCharges;

/* Charges `accepted` to the channels whose ranges hold its shards, each
 * within the executions its escrow pays for. Writes nothing. */
static uint64_t epoch_charges(const Epoch *epoch, const Job *job, const Bitmap *accepted, uint64_t accepted_count,
                              EpochCharges *charges) {
  uint64_t charged = 0;
  charges->paid = 0;
  charges->fee = 0;
  for (uint64_t i = 0; i < epoch->entry_count; i++) {
    const EpochEntry *entry = &epoch->entries[i];
    uint64_t executions = bitmap_count_range(accepted, entry->first_shard, entry->shard_count), paid, fee;
    if (executions + entry->executions_paid > entry->execution_budget) return ERR_BUDGET_EXCEEDED;
    TRY(checked_mul(executions, job->price_per_shard, &paid));
    fee = bps_floor(paid, job->fee_bps);
    charges->executions[i] = (uint32_t)executions; /* at most MAX_SHARDS */
    charges->spent[i] = paid + fee;                /* at most the entry's escrow: its budget bounds it */
    charges->paid += paid;
    charges->fee += fee;
    charged += executions;
  }
  /* The ranges tile the job once it is funded, and nothing is submitted before. */
  return charged == accepted_count ? 0 : ERR_INVALID_ACCEPTED_SHARDS;
}

static void apply_epoch_charges(Epoch *epoch, const EpochCharges *charges) {
  for (uint64_t i = 0; i < epoch->entry_count; i++) {
    epoch->entries[i].executions_paid += charges->executions[i];
    epoch->entries[i].spent += charges->spent[i];
  }
}

/* The entry whose range holds `shard`. */
static uint64_t epoch_entry_of(Epoch *epoch, uint64_t shard, EpochEntry **entry) {
  for (uint64_t i = 0; i < epoch->entry_count; i++) {
    EpochEntry *candidate = &epoch->entries[i];
    if (shard >= candidate->first_shard && shard - candidate->first_shard < candidate->shard_count) {
      *entry = candidate;
      return 0;
    }
  }
  return ERR_INVALID_EVIDENCE;
}
