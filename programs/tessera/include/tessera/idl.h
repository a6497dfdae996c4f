/* Generated from idl/tessera.json by marketplace.sbf.idl_header. Do not edit: */
/* change the IDL and run `tessera program build`. */
#pragma once
#include "tessera/sol.h"

/* Errors: custom program error codes. */
#define ERR_UNKNOWN_INSTRUCTION 6000 /* The instruction discriminator names no Tessera instruction */
#define ERR_INVALID_INSTRUCTION_DATA 6001 /* Instruction data has the wrong length for its instruction */
#define ERR_NOT_ENOUGH_ACCOUNTS 6002 /* Fewer accounts than the instruction needs */
#define ERR_MISSING_SIGNER 6003 /* An account that must sign did not */
#define ERR_ACCOUNT_NOT_WRITABLE 6004 /* An account that must be writable is not */
#define ERR_INVALID_ACCOUNT_OWNER 6005 /* An account is not owned by the expected program */
#define ERR_INVALID_DISCRIMINATOR 6006 /* An account holds another type than expected */
#define ERR_INVALID_ACCOUNT_DATA 6007 /* An account has the wrong size for its type */
#define ERR_INVALID_PDA 6008 /* An account is not the PDA its seeds derive */
#define ERR_DUPLICATE_ACCOUNT 6009 /* An account's duplicate marker names no earlier account */
#define ERR_ARITHMETIC_OVERFLOW 6010 /* An amount overflowed or underflowed */
#define ERR_INVALID_BPS 6011 /* A basis-point value is above 10000 */
#define ERR_INVALID_CONFIG 6012 /* A market parameter is out of range */
#define ERR_UNAUTHORIZED 6013 /* The signer is not the authority or owner of this account */
#define ERR_WRONG_MARKET 6014 /* The account belongs to another market */
#define ERR_STAKE_BELOW_MINIMUM 6015 /* Stake is below the market's minimum */
#define ERR_INSUFFICIENT_FREE_STAKE 6016 /* Not enough unlocked stake for this amount */
#define ERR_UNBONDING_NOT_ELAPSED 6017 /* The unbonding period has not passed yet */
#define ERR_NOTHING_TO_WITHDRAW 6018 /* No unbonding stake to withdraw */
#define ERR_ACCOUNT_ALREADY_INITIALIZED 6019 /* The account already exists */
#define ERR_INVALID_SYSTEM_PROGRAM 6020 /* The system program account is not the system program */
#define ERR_INVALID_ENDPOINT 6021 /* The endpoint must be printable ASCII padded with zero bytes */
#define ERR_ZERO_AMOUNT 6022 /* The amount must be greater than zero */
#define ERR_UNSUPPORTED_RENT 6023 /* The Rent sysvar has an exemption threshold other than 2.0 */
#define ERR_INVALID_CAPACITY 6024 /* Capacity must be at least 1 */
#define ERR_INVALID_STATUS 6025 /* Unknown provider status */
#define ERR_TOO_MANY_ACCOUNTS 6026 /* More accounts than any Tessera instruction takes */
#define ERR_JOB_ID_MISMATCH 6027 /* Not returned since job ids are chosen by the client; the code stays reserved */
#define ERR_INVALID_SHARD_COUNT 6028 /* A job has 1 to 1,024 shards */
#define ERR_INVALID_PRICE 6029 /* The price per shard must be greater than zero */
#define ERR_INVALID_DEADLINE 6030 /* The deadline must be in the future */
#define ERR_DEADLINE_PASSED 6031 /* The job's deadline has passed */
#define ERR_DEADLINE_NOT_PASSED 6032 /* The job's deadline has not passed yet */
#define ERR_EMPTY_SHARDS 6033 /* No shard was named */
#define ERR_SHARD_OUT_OF_RANGE 6034 /* A shard index is beyond the job's shard count */
#define ERR_DUPLICATE_SUBMISSION 6035 /* The provider already submitted one of these shards */
#define ERR_PROVIDER_NOT_ACTIVE 6036 /* The provider is paused */
#define ERR_ASSIGNMENT_PENDING 6037 /* The provider's previous submission to this job is not settled yet */
#define ERR_ASSIGNMENT_NOT_PENDING 6038 /* The assignment has nothing awaiting settlement */
#define ERR_INVALID_ACCEPTED_SHARDS 6039 /* Accepted shards must be a subset of the pending submission, non-empty to pay and empty to reject */
#define ERR_INVALID_VERDICT 6040 /* Unknown verdict */
#define ERR_BUDGET_EXCEEDED 6041 /* Paying these shards would exceed the job's execution budget */
#define ERR_SEED_MISMATCH 6042 /* The seed does not hash to the job's commitment */
#define ERR_JOB_HAS_SUBMISSIONS 6043 /* A job with submissions cannot be cancelled */
#define ERR_NOTHING_TO_REFUND 6044 /* No escrow is free to refund */
#define ERR_JOB_NOT_FINISHED 6045 /* Assignments are pending, or shards are unpaid before the deadline */
#define ERR_JOB_NOT_CLOSED 6046 /* The assignment's job is still open */
#define ERR_WRONG_JOB 6047 /* The account belongs to another job */
#define ERR_TOO_MANY_ENTRIES 6048 /* More settlement entries than accounts allow */
#define ERR_GRACE_NOT_ELAPSED 6049 /* The job's deadline plus the market's grace period has not passed */
#define ERR_CHEATING_PAYS 6050 /* At the market's highest price, sampling rate, slash and minimum stake do not make faking a shard a loss (p·(R + S) > R) */
#define ERR_PRICE_ABOVE_MAXIMUM 6051 /* The price per shard is above the market's maximum */
#define ERR_SLASH_NEEDS_EVIDENCE 6052 /* A slash carries its evidence: use the slash instruction */
#define ERR_INVALID_EVIDENCE 6053 /* The slash's evidence does not hold: the shard is not pending or is paid, the digests agree, or the proof does not lead to the results root */
#define ERR_TREASURY_NOT_RENT_EXEMPT 6054 /* The treasury must hold the rent-exempt minimum for its size, or fees credited to it are refused */
#define ERR_INVALID_VOUCHER 6055 /* The instruction before the claim is not exactly the Ed25519 check of the channel authorizer's voucher for this amount */
#define ERR_VOUCHER_EXCEEDED 6056 /* The claim is more than the voucher authorizes beyond what the channel has already paid */
#define ERR_CHANNEL_UNDERFUNDED 6057 /* The channel's deposit does not cover the claim and the job's rent */
#define ERR_INVALID_WITHDRAW_DELAY 6058 /* The withdrawal delay must be 1 second to a year */
#define ERR_WITHDRAW_ALREADY_REQUESTED 6059 /* A withdrawal is already requested */
#define ERR_WITHDRAW_NOT_REQUESTED 6060 /* No withdrawal was requested */
#define ERR_WITHDRAW_DELAY_NOT_ELAPSED 6061 /* The channel's withdrawal delay has not passed yet */
#define ERR_CHANNEL_HAS_OPEN_JOBS 6062 /* Jobs this channel funded are still open; anyone may close them after their deadline */
#define ERR_INVALID_SYSVAR 6063 /* The account is not the instructions sysvar */
#define ERR_JOB_NOT_FUNDED 6064 /* The epoch job's shards are not all paid for yet: results wait until every channel's claim has landed */
#define ERR_EPOCH_FULL 6065 /* The epoch already names as many channels as it holds */
#define ERR_WRONG_EPOCH 6066 /* The epoch account is not this job's, or the job is not an epoch job */
#define ERR_EPOCH_SHARDS_EXCEEDED 6067 /* The claim pays for more shards than the epoch job has left unfunded */
#define ERR_EPOCH_PAYERS_MISSING 6068 /* Closing an epoch job names its rent payer and every channel it records, in order */
#define ERR_CACHED_IN_EPOCH 6069 /* An epoch job carries only computed shards: a request answered from cache is not put in one */

/* Enums: Borsh encodes a unit variant as its index in one byte. */
#define PROVIDER_STATUS_ACTIVE 0
#define PROVIDER_STATUS_PAUSED 1
#define PROVIDER_STATUS_COUNT 2
#define ASSIGNMENT_STATUS_PENDING 0
#define ASSIGNMENT_STATUS_SETTLED 1
#define ASSIGNMENT_STATUS_COUNT 2
#define VERDICT_NONE 0
#define VERDICT_PAY 1
#define VERDICT_REJECT 2
#define VERDICT_SLASH 3
#define VERDICT_COUNT 4

/* Types shared by accounts and arguments. */
typedef struct {
  SolPubkey verifier;
  SolPubkey treasury;
  uint64_t min_stake;
  int64_t unbonding_period;
  int64_t claim_timeout;
  uint16_t fee_bps;
  uint16_t slash_bps;
  uint16_t sampling_rate_bps;
  uint16_t cache_fee_bps;
  int64_t grace_period;
  uint64_t max_price_per_shard;
} MarketConfig;
_Static_assert(offsetof(MarketConfig, verifier) == 0, "MarketConfig.verifier");
_Static_assert(offsetof(MarketConfig, treasury) == 32, "MarketConfig.treasury");
_Static_assert(offsetof(MarketConfig, min_stake) == 64, "MarketConfig.min_stake");
_Static_assert(offsetof(MarketConfig, unbonding_period) == 72, "MarketConfig.unbonding_period");
_Static_assert(offsetof(MarketConfig, claim_timeout) == 80, "MarketConfig.claim_timeout");
_Static_assert(offsetof(MarketConfig, fee_bps) == 88, "MarketConfig.fee_bps");
_Static_assert(offsetof(MarketConfig, slash_bps) == 90, "MarketConfig.slash_bps");
_Static_assert(offsetof(MarketConfig, sampling_rate_bps) == 92, "MarketConfig.sampling_rate_bps");
_Static_assert(offsetof(MarketConfig, cache_fee_bps) == 94, "MarketConfig.cache_fee_bps");
_Static_assert(offsetof(MarketConfig, grace_period) == 96, "MarketConfig.grace_period");
_Static_assert(offsetof(MarketConfig, max_price_per_shard) == 104, "MarketConfig.max_price_per_shard");
#define MARKET_CONFIG_LEN 112

typedef struct {
  uint8_t verdict;
  uint8_t accepted[128];
} SettlementEntry;
_Static_assert(offsetof(SettlementEntry, verdict) == 0, "SettlementEntry.verdict");
_Static_assert(offsetof(SettlementEntry, accepted) == 1, "SettlementEntry.accepted");
#define SETTLEMENT_ENTRY_LEN 129

typedef struct {
  SolPubkey channel;
  uint64_t escrow;
  uint64_t spent;
  uint64_t credit;
  uint32_t first_shard;
  uint32_t shard_count;
  uint32_t execution_budget;
  uint32_t executions_paid;
} EpochEntry;
_Static_assert(offsetof(EpochEntry, channel) == 0, "EpochEntry.channel");
_Static_assert(offsetof(EpochEntry, escrow) == 32, "EpochEntry.escrow");
_Static_assert(offsetof(EpochEntry, spent) == 40, "EpochEntry.spent");
_Static_assert(offsetof(EpochEntry, credit) == 48, "EpochEntry.credit");
_Static_assert(offsetof(EpochEntry, first_shard) == 56, "EpochEntry.first_shard");
_Static_assert(offsetof(EpochEntry, shard_count) == 60, "EpochEntry.shard_count");
_Static_assert(offsetof(EpochEntry, execution_budget) == 64, "EpochEntry.execution_budget");
_Static_assert(offsetof(EpochEntry, executions_paid) == 68, "EpochEntry.executions_paid");
#define EPOCH_ENTRY_LEN 72

/* Accounts: discriminator = sha256("account:<Name>")[:8] as a little-endian u64. */
#define MARKET_DISCRIMINATOR 0x9ac6e30037d5bedbULL
#define MARKET_LEN 184
typedef struct {
  uint64_t discriminator;
  SolPubkey authority;
  SolPubkey verifier;
  SolPubkey treasury;
  uint64_t min_stake;
  int64_t unbonding_period;
  int64_t claim_timeout;
  uint64_t jobs_created;
  uint64_t total_stake;
  uint64_t provider_count;
  uint16_t fee_bps;
  uint16_t slash_bps;
  uint16_t sampling_rate_bps;
  uint16_t cache_fee_bps;
  uint8_t bump;
  uint8_t padding[7];
  int64_t grace_period;
  uint64_t max_price_per_shard;
} Market;
_Static_assert(offsetof(Market, authority) == 8, "Market.authority");
_Static_assert(offsetof(Market, verifier) == 40, "Market.verifier");
_Static_assert(offsetof(Market, treasury) == 72, "Market.treasury");
_Static_assert(offsetof(Market, min_stake) == 104, "Market.min_stake");
_Static_assert(offsetof(Market, unbonding_period) == 112, "Market.unbonding_period");
_Static_assert(offsetof(Market, claim_timeout) == 120, "Market.claim_timeout");
_Static_assert(offsetof(Market, jobs_created) == 128, "Market.jobs_created");
_Static_assert(offsetof(Market, total_stake) == 136, "Market.total_stake");
_Static_assert(offsetof(Market, provider_count) == 144, "Market.provider_count");
_Static_assert(offsetof(Market, fee_bps) == 152, "Market.fee_bps");
_Static_assert(offsetof(Market, slash_bps) == 154, "Market.slash_bps");
_Static_assert(offsetof(Market, sampling_rate_bps) == 156, "Market.sampling_rate_bps");
_Static_assert(offsetof(Market, cache_fee_bps) == 158, "Market.cache_fee_bps");
_Static_assert(offsetof(Market, bump) == 160, "Market.bump");
_Static_assert(offsetof(Market, padding) == 161, "Market.padding");
_Static_assert(offsetof(Market, grace_period) == 168, "Market.grace_period");
_Static_assert(offsetof(Market, max_price_per_shard) == 176, "Market.max_price_per_shard");
_Static_assert(sizeof(Market) == MARKET_LEN, "Market size");

#define PROVIDER_DISCRIMINATOR 0xc350d84b1147b4a4ULL
#define PROVIDER_LEN 264
typedef struct {
  uint64_t discriminator;
  SolPubkey market;
  SolPubkey owner;
  uint64_t stake;
  uint64_t locked_stake;
  uint64_t unbonding_stake;
  int64_t unbond_at;
  int64_t registered_at;
  uint64_t shards_served;
  uint64_t shards_slashed;
  uint32_t capacity;
  uint8_t status;
  uint8_t bump;
  uint8_t padding[2];
  uint8_t endpoint[128];
} Provider;
_Static_assert(offsetof(Provider, market) == 8, "Provider.market");
_Static_assert(offsetof(Provider, owner) == 40, "Provider.owner");
_Static_assert(offsetof(Provider, stake) == 72, "Provider.stake");
_Static_assert(offsetof(Provider, locked_stake) == 80, "Provider.locked_stake");
_Static_assert(offsetof(Provider, unbonding_stake) == 88, "Provider.unbonding_stake");
_Static_assert(offsetof(Provider, unbond_at) == 96, "Provider.unbond_at");
_Static_assert(offsetof(Provider, registered_at) == 104, "Provider.registered_at");
_Static_assert(offsetof(Provider, shards_served) == 112, "Provider.shards_served");
_Static_assert(offsetof(Provider, shards_slashed) == 120, "Provider.shards_slashed");
_Static_assert(offsetof(Provider, capacity) == 128, "Provider.capacity");
_Static_assert(offsetof(Provider, status) == 132, "Provider.status");
_Static_assert(offsetof(Provider, bump) == 133, "Provider.bump");
_Static_assert(offsetof(Provider, padding) == 134, "Provider.padding");
_Static_assert(offsetof(Provider, endpoint) == 136, "Provider.endpoint");
_Static_assert(sizeof(Provider) == PROVIDER_LEN, "Provider size");

#define JOB_DISCRIMINATOR 0x50cab4a1cb507c4bULL
#define JOB_LEN 536
typedef struct {
  uint64_t discriminator;
  SolPubkey market;
  SolPubkey client;
  uint8_t model_digest[32];
  uint8_t input_root[32];
  uint8_t seed_commitment[32];
  uint8_t revealed_seed[32];
  uint8_t served_shards[128];
  uint8_t paid_shards[128];
  uint64_t job_id;
  uint64_t price_per_shard;
  uint64_t escrow;
  int64_t deadline;
  int64_t created_at;
  uint32_t shard_count;
  uint32_t execution_budget;
  uint32_t executions_paid;
  uint32_t pending_shards;
  uint32_t assignment_count;
  uint32_t pending_assignments;
  uint32_t unfunded_shards;
  uint16_t fee_bps;
  uint16_t sampling_rate_bps;
  uint8_t seed_revealed;
  uint8_t bump;
  uint8_t is_epoch;
  uint8_t padding[5];
} Job;
_Static_assert(offsetof(Job, market) == 8, "Job.market");
_Static_assert(offsetof(Job, client) == 40, "Job.client");
_Static_assert(offsetof(Job, model_digest) == 72, "Job.model_digest");
_Static_assert(offsetof(Job, input_root) == 104, "Job.input_root");
_Static_assert(offsetof(Job, seed_commitment) == 136, "Job.seed_commitment");
_Static_assert(offsetof(Job, revealed_seed) == 168, "Job.revealed_seed");
_Static_assert(offsetof(Job, served_shards) == 200, "Job.served_shards");
_Static_assert(offsetof(Job, paid_shards) == 328, "Job.paid_shards");
_Static_assert(offsetof(Job, job_id) == 456, "Job.job_id");
_Static_assert(offsetof(Job, price_per_shard) == 464, "Job.price_per_shard");
_Static_assert(offsetof(Job, escrow) == 472, "Job.escrow");
_Static_assert(offsetof(Job, deadline) == 480, "Job.deadline");
_Static_assert(offsetof(Job, created_at) == 488, "Job.created_at");
_Static_assert(offsetof(Job, shard_count) == 496, "Job.shard_count");
_Static_assert(offsetof(Job, execution_budget) == 500, "Job.execution_budget");
_Static_assert(offsetof(Job, executions_paid) == 504, "Job.executions_paid");
_Static_assert(offsetof(Job, pending_shards) == 508, "Job.pending_shards");
_Static_assert(offsetof(Job, assignment_count) == 512, "Job.assignment_count");
_Static_assert(offsetof(Job, pending_assignments) == 516, "Job.pending_assignments");
_Static_assert(offsetof(Job, unfunded_shards) == 520, "Job.unfunded_shards");
_Static_assert(offsetof(Job, fee_bps) == 524, "Job.fee_bps");
_Static_assert(offsetof(Job, sampling_rate_bps) == 526, "Job.sampling_rate_bps");
_Static_assert(offsetof(Job, seed_revealed) == 528, "Job.seed_revealed");
_Static_assert(offsetof(Job, bump) == 529, "Job.bump");
_Static_assert(offsetof(Job, is_epoch) == 530, "Job.is_epoch");
_Static_assert(offsetof(Job, padding) == 531, "Job.padding");
_Static_assert(sizeof(Job) == JOB_LEN, "Job size");

#define ASSIGNMENT_DISCRIMINATOR 0x1f49aa59336ec96aULL
#define ASSIGNMENT_LEN 512
typedef struct {
  uint64_t discriminator;
  SolPubkey job;
  SolPubkey provider;
  uint8_t results_root[32];
  uint8_t submitted_shards[128];
  uint8_t pending_shards[128];
  uint8_t paid_shards[128];
  uint64_t collateral;
  int64_t submitted_at;
  uint8_t status;
  uint8_t last_verdict;
  uint8_t bump;
  uint8_t padding[5];
} Assignment;
_Static_assert(offsetof(Assignment, job) == 8, "Assignment.job");
_Static_assert(offsetof(Assignment, provider) == 40, "Assignment.provider");
_Static_assert(offsetof(Assignment, results_root) == 72, "Assignment.results_root");
_Static_assert(offsetof(Assignment, submitted_shards) == 104, "Assignment.submitted_shards");
_Static_assert(offsetof(Assignment, pending_shards) == 232, "Assignment.pending_shards");
_Static_assert(offsetof(Assignment, paid_shards) == 360, "Assignment.paid_shards");
_Static_assert(offsetof(Assignment, collateral) == 488, "Assignment.collateral");
_Static_assert(offsetof(Assignment, submitted_at) == 496, "Assignment.submitted_at");
_Static_assert(offsetof(Assignment, status) == 504, "Assignment.status");
_Static_assert(offsetof(Assignment, last_verdict) == 505, "Assignment.last_verdict");
_Static_assert(offsetof(Assignment, bump) == 506, "Assignment.bump");
_Static_assert(offsetof(Assignment, padding) == 507, "Assignment.padding");
_Static_assert(sizeof(Assignment) == ASSIGNMENT_LEN, "Assignment size");

#define CHANNEL_DISCRIMINATOR 0x58db57dc6a639f31ULL
#define CHANNEL_LEN 144
typedef struct {
  uint64_t discriminator;
  SolPubkey market;
  SolPubkey owner;
  SolPubkey authorizer;
  uint64_t claimed;
  uint64_t generation;
  int64_t withdraw_delay;
  int64_t withdrawable_at;
  uint32_t open_jobs;
  uint8_t bump;
  uint8_t padding[3];
} Channel;
_Static_assert(offsetof(Channel, market) == 8, "Channel.market");
_Static_assert(offsetof(Channel, owner) == 40, "Channel.owner");
_Static_assert(offsetof(Channel, authorizer) == 72, "Channel.authorizer");
_Static_assert(offsetof(Channel, claimed) == 104, "Channel.claimed");
_Static_assert(offsetof(Channel, generation) == 112, "Channel.generation");
_Static_assert(offsetof(Channel, withdraw_delay) == 120, "Channel.withdraw_delay");
_Static_assert(offsetof(Channel, withdrawable_at) == 128, "Channel.withdrawable_at");
_Static_assert(offsetof(Channel, open_jobs) == 136, "Channel.open_jobs");
_Static_assert(offsetof(Channel, bump) == 140, "Channel.bump");
_Static_assert(offsetof(Channel, padding) == 141, "Channel.padding");
_Static_assert(sizeof(Channel) == CHANNEL_LEN, "Channel size");

#define EPOCH_DISCRIMINATOR 0x6c988a975978535dULL
#define EPOCH_LEN 1272
typedef struct {
  uint64_t discriminator;
  SolPubkey market;
  SolPubkey job;
  SolPubkey payer;
  uint32_t funded_shards;
  uint32_t entry_count;
  EpochEntry entries[16];
  uint8_t bump;
  uint8_t padding[7];
} Epoch;
_Static_assert(offsetof(Epoch, market) == 8, "Epoch.market");
_Static_assert(offsetof(Epoch, job) == 40, "Epoch.job");
_Static_assert(offsetof(Epoch, payer) == 72, "Epoch.payer");
_Static_assert(offsetof(Epoch, funded_shards) == 104, "Epoch.funded_shards");
_Static_assert(offsetof(Epoch, entry_count) == 108, "Epoch.entry_count");
_Static_assert(offsetof(Epoch, entries) == 112, "Epoch.entries");
_Static_assert(offsetof(Epoch, bump) == 1264, "Epoch.bump");
_Static_assert(offsetof(Epoch, padding) == 1265, "Epoch.padding");
_Static_assert(sizeof(Epoch) == EPOCH_LEN, "Epoch size");

/* Instructions: discriminator = sha256("global:<snake_name>")[:8]; data = discriminator + Borsh args. */
#define IX_INITIALIZE_MARKET 0xcbaa309bc1bd2323ULL
#define INITIALIZE_MARKET_ACCOUNTS 4
#define INITIALIZE_MARKET_DATA_LEN 120
typedef struct {
  uint64_t discriminator;
  MarketConfig config;
} InitializeMarketArgs;
_Static_assert(offsetof(InitializeMarketArgs, config) == 8, "InitializeMarketArgs.config");

#define IX_UPDATE_MARKET 0xd9c732b3c5022799ULL
#define UPDATE_MARKET_ACCOUNTS 3
#define UPDATE_MARKET_DATA_LEN 120
typedef struct {
  uint64_t discriminator;
  MarketConfig config;
} UpdateMarketArgs;
_Static_assert(offsetof(UpdateMarketArgs, config) == 8, "UpdateMarketArgs.config");

#define IX_REGISTER_PROVIDER 0x4e6dc52eb836d1feULL
#define REGISTER_PROVIDER_ACCOUNTS 4
#define REGISTER_PROVIDER_DATA_LEN 148
typedef struct {
  uint64_t discriminator;
  uint8_t endpoint[128];
  uint64_t stake;
  uint32_t capacity;
} RegisterProviderArgs;
_Static_assert(offsetof(RegisterProviderArgs, endpoint) == 8, "RegisterProviderArgs.endpoint");
_Static_assert(offsetof(RegisterProviderArgs, stake) == 136, "RegisterProviderArgs.stake");
_Static_assert(offsetof(RegisterProviderArgs, capacity) == 144, "RegisterProviderArgs.capacity");

#define IX_ADD_STAKE 0xe0a578a069bd873aULL
#define ADD_STAKE_ACCOUNTS 4
#define ADD_STAKE_DATA_LEN 16
typedef struct {
  uint64_t discriminator;
  uint64_t amount;
} AddStakeArgs;
_Static_assert(offsetof(AddStakeArgs, amount) == 8, "AddStakeArgs.amount");

#define IX_REQUEST_UNSTAKE 0x2236caa0fd6e9a2cULL
#define REQUEST_UNSTAKE_ACCOUNTS 3
#define REQUEST_UNSTAKE_DATA_LEN 16
typedef struct {
  uint64_t discriminator;
  uint64_t amount;
} RequestUnstakeArgs;
_Static_assert(offsetof(RequestUnstakeArgs, amount) == 8, "RequestUnstakeArgs.amount");

#define IX_WITHDRAW_STAKE 0x4257b0698a160899ULL
#define WITHDRAW_STAKE_ACCOUNTS 2
#define WITHDRAW_STAKE_DATA_LEN 8
typedef struct {
  uint64_t discriminator;
} WithdrawStakeArgs;

#define IX_UPDATE_PROVIDER 0x966c36a4bf8dd034ULL
#define UPDATE_PROVIDER_ACCOUNTS 2
#define UPDATE_PROVIDER_DATA_LEN 141
typedef struct {
  uint64_t discriminator;
  uint8_t endpoint[128];
  uint32_t capacity;
  uint8_t status;
} UpdateProviderArgs;
_Static_assert(offsetof(UpdateProviderArgs, endpoint) == 8, "UpdateProviderArgs.endpoint");
_Static_assert(offsetof(UpdateProviderArgs, capacity) == 136, "UpdateProviderArgs.capacity");
_Static_assert(offsetof(UpdateProviderArgs, status) == 140, "UpdateProviderArgs.status");

#define IX_CREATE_JOB 0x77521b646ed982b2ULL
#define CREATE_JOB_ACCOUNTS 4
#define CREATE_JOB_DATA_LEN 132
typedef struct {
  uint64_t discriminator;
  uint8_t model_digest[32];
  uint8_t input_root[32];
  uint8_t seed_commitment[32];
  uint64_t job_id;
  uint64_t price_per_shard;
  int64_t deadline;
  uint32_t shard_count;
} CreateJobArgs;
_Static_assert(offsetof(CreateJobArgs, model_digest) == 8, "CreateJobArgs.model_digest");
_Static_assert(offsetof(CreateJobArgs, input_root) == 40, "CreateJobArgs.input_root");
_Static_assert(offsetof(CreateJobArgs, seed_commitment) == 72, "CreateJobArgs.seed_commitment");
_Static_assert(offsetof(CreateJobArgs, job_id) == 104, "CreateJobArgs.job_id");
_Static_assert(offsetof(CreateJobArgs, price_per_shard) == 112, "CreateJobArgs.price_per_shard");
_Static_assert(offsetof(CreateJobArgs, deadline) == 120, "CreateJobArgs.deadline");
_Static_assert(offsetof(CreateJobArgs, shard_count) == 128, "CreateJobArgs.shard_count");

#define IX_SUBMIT_RESULTS 0x3913eb5b9ffa1016ULL
#define SUBMIT_RESULTS_ACCOUNTS 6
#define SUBMIT_RESULTS_DATA_LEN 168
typedef struct {
  uint64_t discriminator;
  uint8_t shards[128];
  uint8_t results_root[32];
} SubmitResultsArgs;
_Static_assert(offsetof(SubmitResultsArgs, shards) == 8, "SubmitResultsArgs.shards");
_Static_assert(offsetof(SubmitResultsArgs, results_root) == 136, "SubmitResultsArgs.results_root");

#define IX_SETTLE 0xd466839057b92aafULL
#define SETTLE_ACCOUNTS 5
#define SETTLE_DATA_LEN 44
#define SETTLE_ENTRIES_ITEM_LEN 129
typedef struct {
  uint64_t discriminator;
  uint8_t seed[32];
  uint32_t entries_len;
  SettlementEntry entries[];
} SettleArgs;
_Static_assert(offsetof(SettleArgs, seed) == 8, "SettleArgs.seed");
_Static_assert(offsetof(SettleArgs, entries_len) == 40, "SettleArgs.entries_len");
_Static_assert(offsetof(SettleArgs, entries) == 44, "SettleArgs.entries");

#define IX_SLASH 0x8e5cb108a1128dccULL
#define SLASH_ACCOUNTS 8
#define SLASH_DATA_LEN 522
typedef struct {
  uint64_t discriminator;
  uint8_t accepted[128];
  uint16_t shard;
  uint8_t committed_digest[32];
  uint8_t referee_digest[32];
  uint8_t proof[320];
} SlashArgs;
_Static_assert(offsetof(SlashArgs, accepted) == 8, "SlashArgs.accepted");
_Static_assert(offsetof(SlashArgs, shard) == 136, "SlashArgs.shard");
_Static_assert(offsetof(SlashArgs, committed_digest) == 138, "SlashArgs.committed_digest");
_Static_assert(offsetof(SlashArgs, referee_digest) == 170, "SlashArgs.referee_digest");
_Static_assert(offsetof(SlashArgs, proof) == 202, "SlashArgs.proof");

#define IX_CANCEL_JOB 0x7653ec32f19bf17eULL
#define CANCEL_JOB_ACCOUNTS 2
#define CANCEL_JOB_DATA_LEN 8
typedef struct {
  uint64_t discriminator;
} CancelJobArgs;

#define IX_REFUND 0x2e2ed03ffbb76002ULL
#define REFUND_ACCOUNTS 2
#define REFUND_DATA_LEN 8
typedef struct {
  uint64_t discriminator;
} RefundArgs;

#define IX_CLOSE_JOB 0xb678a3c8c8b4645aULL
#define CLOSE_JOB_ACCOUNTS 2
#define CLOSE_JOB_DATA_LEN 8
typedef struct {
  uint64_t discriminator;
} CloseJobArgs;

#define IX_CLOSE_ASSIGNMENT 0xde0198a6c5bb7ab4ULL
#define CLOSE_ASSIGNMENT_ACCOUNTS 4
#define CLOSE_ASSIGNMENT_DATA_LEN 8
typedef struct {
  uint64_t discriminator;
} CloseAssignmentArgs;

#define IX_SERVE_CACHED 0xe10dc920d9b72e54ULL
#define SERVE_CACHED_ACCOUNTS 4
#define SERVE_CACHED_DATA_LEN 136
typedef struct {
  uint64_t discriminator;
  uint8_t shards[128];
} ServeCachedArgs;
_Static_assert(offsetof(ServeCachedArgs, shards) == 8, "ServeCachedArgs.shards");

#define IX_UNWIND_ASSIGNMENT 0xf73ee4b545dace05ULL
#define UNWIND_ASSIGNMENT_ACCOUNTS 4
#define UNWIND_ASSIGNMENT_DATA_LEN 8
typedef struct {
  uint64_t discriminator;
} UnwindAssignmentArgs;

#define IX_OPEN_CHANNEL 0x6d6ba68c47fd2d5bULL
#define OPEN_CHANNEL_ACCOUNTS 4
#define OPEN_CHANNEL_DATA_LEN 56
typedef struct {
  uint64_t discriminator;
  SolPubkey authorizer;
  uint64_t deposit;
  int64_t withdraw_delay;
} OpenChannelArgs;
_Static_assert(offsetof(OpenChannelArgs, authorizer) == 8, "OpenChannelArgs.authorizer");
_Static_assert(offsetof(OpenChannelArgs, deposit) == 40, "OpenChannelArgs.deposit");
_Static_assert(offsetof(OpenChannelArgs, withdraw_delay) == 48, "OpenChannelArgs.withdraw_delay");

#define IX_TOP_UP_CHANNEL 0x8c4432936bf0dd26ULL
#define TOP_UP_CHANNEL_ACCOUNTS 3
#define TOP_UP_CHANNEL_DATA_LEN 16
typedef struct {
  uint64_t discriminator;
  uint64_t amount;
} TopUpChannelArgs;
_Static_assert(offsetof(TopUpChannelArgs, amount) == 8, "TopUpChannelArgs.amount");

#define IX_CLAIM_CHANNEL 0x142591d53e5738c6ULL
#define CLAIM_CHANNEL_ACCOUNTS 6
#define CLAIM_CHANNEL_DATA_LEN 140
typedef struct {
  uint64_t discriminator;
  uint8_t model_digest[32];
  uint8_t input_root[32];
  uint8_t seed_commitment[32];
  uint64_t job_id;
  uint64_t price_per_shard;
  int64_t deadline;
  uint64_t voucher_amount;
  uint32_t shard_count;
} ClaimChannelArgs;
_Static_assert(offsetof(ClaimChannelArgs, model_digest) == 8, "ClaimChannelArgs.model_digest");
_Static_assert(offsetof(ClaimChannelArgs, input_root) == 40, "ClaimChannelArgs.input_root");
_Static_assert(offsetof(ClaimChannelArgs, seed_commitment) == 72, "ClaimChannelArgs.seed_commitment");
_Static_assert(offsetof(ClaimChannelArgs, job_id) == 104, "ClaimChannelArgs.job_id");
_Static_assert(offsetof(ClaimChannelArgs, price_per_shard) == 112, "ClaimChannelArgs.price_per_shard");
_Static_assert(offsetof(ClaimChannelArgs, deadline) == 120, "ClaimChannelArgs.deadline");
_Static_assert(offsetof(ClaimChannelArgs, voucher_amount) == 128, "ClaimChannelArgs.voucher_amount");
_Static_assert(offsetof(ClaimChannelArgs, shard_count) == 136, "ClaimChannelArgs.shard_count");

#define IX_REQUEST_WITHDRAW 0xb61f8afa60bb5f89ULL
#define REQUEST_WITHDRAW_ACCOUNTS 2
#define REQUEST_WITHDRAW_DATA_LEN 8
typedef struct {
  uint64_t discriminator;
} RequestWithdrawArgs;

#define IX_WITHDRAW 0x22a16d949c4612b7ULL
#define WITHDRAW_ACCOUNTS 2
#define WITHDRAW_DATA_LEN 8
typedef struct {
  uint64_t discriminator;
} WithdrawArgs;

#define IX_OPEN_EPOCH 0x88cffead21da394bULL
#define OPEN_EPOCH_ACCOUNTS 5
#define OPEN_EPOCH_DATA_LEN 132
typedef struct {
  uint64_t discriminator;
  uint8_t model_digest[32];
  uint8_t input_root[32];
  uint8_t seed_commitment[32];
  uint64_t job_id;
  uint64_t price_per_shard;
  int64_t deadline;
  uint32_t shard_count;
} OpenEpochArgs;
_Static_assert(offsetof(OpenEpochArgs, model_digest) == 8, "OpenEpochArgs.model_digest");
_Static_assert(offsetof(OpenEpochArgs, input_root) == 40, "OpenEpochArgs.input_root");
_Static_assert(offsetof(OpenEpochArgs, seed_commitment) == 72, "OpenEpochArgs.seed_commitment");
_Static_assert(offsetof(OpenEpochArgs, job_id) == 104, "OpenEpochArgs.job_id");
_Static_assert(offsetof(OpenEpochArgs, price_per_shard) == 112, "OpenEpochArgs.price_per_shard");
_Static_assert(offsetof(OpenEpochArgs, deadline) == 120, "OpenEpochArgs.deadline");
_Static_assert(offsetof(OpenEpochArgs, shard_count) == 128, "OpenEpochArgs.shard_count");

#define IX_CLAIM_EPOCH 0x3b769325da9a1120ULL
#define CLAIM_EPOCH_ACCOUNTS 6
#define CLAIM_EPOCH_DATA_LEN 20
typedef struct {
  uint64_t discriminator;
  uint64_t voucher_amount;
  uint32_t shard_count;
} ClaimEpochArgs;
_Static_assert(offsetof(ClaimEpochArgs, voucher_amount) == 8, "ClaimEpochArgs.voucher_amount");
_Static_assert(offsetof(ClaimEpochArgs, shard_count) == 16, "ClaimEpochArgs.shard_count");

/* Events: logged with sol_log_data as discriminator (sha256("event:<Name>")[:8]) + Borsh. */
#define EVENT_MARKET_INITIALIZED_DISCRIMINATOR 0x51ff0332577aa086ULL
#define EVENT_MARKET_INITIALIZED_LEN 136
typedef struct {
  uint64_t discriminator;
  SolPubkey market;
  SolPubkey authority;
  SolPubkey verifier;
  SolPubkey treasury;
} MarketInitializedEvent;
_Static_assert(offsetof(MarketInitializedEvent, market) == 8, "MarketInitializedEvent.market");
_Static_assert(offsetof(MarketInitializedEvent, authority) == 40, "MarketInitializedEvent.authority");
_Static_assert(offsetof(MarketInitializedEvent, verifier) == 72, "MarketInitializedEvent.verifier");
_Static_assert(offsetof(MarketInitializedEvent, treasury) == 104, "MarketInitializedEvent.treasury");

#define EVENT_MARKET_UPDATED_DISCRIMINATOR 0xfbd9a874934a33aaULL
#define EVENT_MARKET_UPDATED_LEN 142
typedef struct {
  uint64_t discriminator;
  SolPubkey market;
  SolPubkey verifier;
  SolPubkey treasury;
  uint64_t min_stake;
  int64_t unbonding_period;
  int64_t claim_timeout;
  uint64_t max_price_per_shard;
  uint16_t fee_bps;
  uint16_t slash_bps;
  uint16_t sampling_rate_bps;
} MarketUpdatedEvent;
_Static_assert(offsetof(MarketUpdatedEvent, market) == 8, "MarketUpdatedEvent.market");
_Static_assert(offsetof(MarketUpdatedEvent, verifier) == 40, "MarketUpdatedEvent.verifier");
_Static_assert(offsetof(MarketUpdatedEvent, treasury) == 72, "MarketUpdatedEvent.treasury");
_Static_assert(offsetof(MarketUpdatedEvent, min_stake) == 104, "MarketUpdatedEvent.min_stake");
_Static_assert(offsetof(MarketUpdatedEvent, unbonding_period) == 112, "MarketUpdatedEvent.unbonding_period");
_Static_assert(offsetof(MarketUpdatedEvent, claim_timeout) == 120, "MarketUpdatedEvent.claim_timeout");
_Static_assert(offsetof(MarketUpdatedEvent, max_price_per_shard) == 128, "MarketUpdatedEvent.max_price_per_shard");
_Static_assert(offsetof(MarketUpdatedEvent, fee_bps) == 136, "MarketUpdatedEvent.fee_bps");
_Static_assert(offsetof(MarketUpdatedEvent, slash_bps) == 138, "MarketUpdatedEvent.slash_bps");
_Static_assert(offsetof(MarketUpdatedEvent, sampling_rate_bps) == 140, "MarketUpdatedEvent.sampling_rate_bps");

#define EVENT_PROVIDER_REGISTERED_DISCRIMINATOR 0x0e9313b94e89d126ULL
#define EVENT_PROVIDER_REGISTERED_LEN 116
typedef struct {
  uint64_t discriminator;
  SolPubkey market;
  SolPubkey provider;
  SolPubkey owner;
  uint64_t stake;
  uint32_t capacity;
} ProviderRegisteredEvent;
_Static_assert(offsetof(ProviderRegisteredEvent, market) == 8, "ProviderRegisteredEvent.market");
_Static_assert(offsetof(ProviderRegisteredEvent, provider) == 40, "ProviderRegisteredEvent.provider");
_Static_assert(offsetof(ProviderRegisteredEvent, owner) == 72, "ProviderRegisteredEvent.owner");
_Static_assert(offsetof(ProviderRegisteredEvent, stake) == 104, "ProviderRegisteredEvent.stake");
_Static_assert(offsetof(ProviderRegisteredEvent, capacity) == 112, "ProviderRegisteredEvent.capacity");

#define EVENT_STAKE_ADDED_DISCRIMINATOR 0xc11760165a86aa8bULL
#define EVENT_STAKE_ADDED_LEN 56
typedef struct {
  uint64_t discriminator;
  SolPubkey provider;
  uint64_t amount;
  uint64_t stake;
} StakeAddedEvent;
_Static_assert(offsetof(StakeAddedEvent, provider) == 8, "StakeAddedEvent.provider");
_Static_assert(offsetof(StakeAddedEvent, amount) == 40, "StakeAddedEvent.amount");
_Static_assert(offsetof(StakeAddedEvent, stake) == 48, "StakeAddedEvent.stake");

#define EVENT_UNSTAKE_REQUESTED_DISCRIMINATOR 0x982ace8155b1fd15ULL
#define EVENT_UNSTAKE_REQUESTED_LEN 64
typedef struct {
  uint64_t discriminator;
  SolPubkey provider;
  uint64_t amount;
  uint64_t unbonding_stake;
  int64_t unbond_at;
} UnstakeRequestedEvent;
_Static_assert(offsetof(UnstakeRequestedEvent, provider) == 8, "UnstakeRequestedEvent.provider");
_Static_assert(offsetof(UnstakeRequestedEvent, amount) == 40, "UnstakeRequestedEvent.amount");
_Static_assert(offsetof(UnstakeRequestedEvent, unbonding_stake) == 48, "UnstakeRequestedEvent.unbonding_stake");
_Static_assert(offsetof(UnstakeRequestedEvent, unbond_at) == 56, "UnstakeRequestedEvent.unbond_at");

#define EVENT_STAKE_WITHDRAWN_DISCRIMINATOR 0x4faeff8c3a9f7821ULL
#define EVENT_STAKE_WITHDRAWN_LEN 48
typedef struct {
  uint64_t discriminator;
  SolPubkey provider;
  uint64_t amount;
} StakeWithdrawnEvent;
_Static_assert(offsetof(StakeWithdrawnEvent, provider) == 8, "StakeWithdrawnEvent.provider");
_Static_assert(offsetof(StakeWithdrawnEvent, amount) == 40, "StakeWithdrawnEvent.amount");

#define EVENT_PROVIDER_UPDATED_DISCRIMINATOR 0x88a4d07ab41b048fULL
#define EVENT_PROVIDER_UPDATED_LEN 45
typedef struct {
  uint64_t discriminator;
  SolPubkey provider;
  uint32_t capacity;
  uint8_t status;
} ProviderUpdatedEvent;
_Static_assert(offsetof(ProviderUpdatedEvent, provider) == 8, "ProviderUpdatedEvent.provider");
_Static_assert(offsetof(ProviderUpdatedEvent, capacity) == 40, "ProviderUpdatedEvent.capacity");
_Static_assert(offsetof(ProviderUpdatedEvent, status) == 44, "ProviderUpdatedEvent.status");

#define EVENT_JOB_CREATED_DISCRIMINATOR 0x839f4a43b1a26e30ULL
#define EVENT_JOB_CREATED_LEN 140
typedef struct {
  uint64_t discriminator;
  SolPubkey market;
  SolPubkey job;
  SolPubkey client;
  uint64_t job_id;
  uint64_t price_per_shard;
  uint64_t escrow;
  int64_t deadline;
  uint32_t shard_count;
} JobCreatedEvent;
_Static_assert(offsetof(JobCreatedEvent, market) == 8, "JobCreatedEvent.market");
_Static_assert(offsetof(JobCreatedEvent, job) == 40, "JobCreatedEvent.job");
_Static_assert(offsetof(JobCreatedEvent, client) == 72, "JobCreatedEvent.client");
_Static_assert(offsetof(JobCreatedEvent, job_id) == 104, "JobCreatedEvent.job_id");
_Static_assert(offsetof(JobCreatedEvent, price_per_shard) == 112, "JobCreatedEvent.price_per_shard");
_Static_assert(offsetof(JobCreatedEvent, escrow) == 120, "JobCreatedEvent.escrow");
_Static_assert(offsetof(JobCreatedEvent, deadline) == 128, "JobCreatedEvent.deadline");
_Static_assert(offsetof(JobCreatedEvent, shard_count) == 136, "JobCreatedEvent.shard_count");

#define EVENT_RESULTS_SUBMITTED_DISCRIMINATOR 0x29b55c1b900f6e73ULL
#define EVENT_RESULTS_SUBMITTED_LEN 240
typedef struct {
  uint64_t discriminator;
  SolPubkey job;
  SolPubkey provider;
  uint8_t results_root[32];
  uint8_t shards[128];
  uint64_t collateral;
} ResultsSubmittedEvent;
_Static_assert(offsetof(ResultsSubmittedEvent, job) == 8, "ResultsSubmittedEvent.job");
_Static_assert(offsetof(ResultsSubmittedEvent, provider) == 40, "ResultsSubmittedEvent.provider");
_Static_assert(offsetof(ResultsSubmittedEvent, results_root) == 72, "ResultsSubmittedEvent.results_root");
_Static_assert(offsetof(ResultsSubmittedEvent, shards) == 104, "ResultsSubmittedEvent.shards");
_Static_assert(offsetof(ResultsSubmittedEvent, collateral) == 232, "ResultsSubmittedEvent.collateral");

#define EVENT_ASSIGNMENT_SETTLED_DISCRIMINATOR 0x07c61a4cd61bd98cULL
#define EVENT_ASSIGNMENT_SETTLED_LEN 225
typedef struct {
  uint64_t discriminator;
  SolPubkey job;
  SolPubkey provider;
  uint8_t accepted[128];
  uint64_t paid;
  uint64_t fee;
  uint64_t slashed;
  uint8_t verdict;
} AssignmentSettledEvent;
_Static_assert(offsetof(AssignmentSettledEvent, job) == 8, "AssignmentSettledEvent.job");
_Static_assert(offsetof(AssignmentSettledEvent, provider) == 40, "AssignmentSettledEvent.provider");
_Static_assert(offsetof(AssignmentSettledEvent, accepted) == 72, "AssignmentSettledEvent.accepted");
_Static_assert(offsetof(AssignmentSettledEvent, paid) == 200, "AssignmentSettledEvent.paid");
_Static_assert(offsetof(AssignmentSettledEvent, fee) == 208, "AssignmentSettledEvent.fee");
_Static_assert(offsetof(AssignmentSettledEvent, slashed) == 216, "AssignmentSettledEvent.slashed");
_Static_assert(offsetof(AssignmentSettledEvent, verdict) == 224, "AssignmentSettledEvent.verdict");

#define EVENT_ASSIGNMENT_SLASHED_DISCRIMINATOR 0x6bf2d7cb0f8c83d0ULL
#define EVENT_ASSIGNMENT_SLASHED_LEN 178
typedef struct {
  uint64_t discriminator;
  SolPubkey job;
  SolPubkey provider;
  uint64_t slashed;
  uint16_t shard;
  uint8_t committed_digest[32];
  uint8_t referee_digest[32];
  uint8_t results_root[32];
} AssignmentSlashedEvent;
_Static_assert(offsetof(AssignmentSlashedEvent, job) == 8, "AssignmentSlashedEvent.job");
_Static_assert(offsetof(AssignmentSlashedEvent, provider) == 40, "AssignmentSlashedEvent.provider");
_Static_assert(offsetof(AssignmentSlashedEvent, slashed) == 72, "AssignmentSlashedEvent.slashed");
_Static_assert(offsetof(AssignmentSlashedEvent, shard) == 80, "AssignmentSlashedEvent.shard");
_Static_assert(offsetof(AssignmentSlashedEvent, committed_digest) == 82, "AssignmentSlashedEvent.committed_digest");
_Static_assert(offsetof(AssignmentSlashedEvent, referee_digest) == 114, "AssignmentSlashedEvent.referee_digest");
_Static_assert(offsetof(AssignmentSlashedEvent, results_root) == 146, "AssignmentSlashedEvent.results_root");

#define EVENT_SEED_REVEALED_DISCRIMINATOR 0xecf08dff45cb1c1cULL
#define EVENT_SEED_REVEALED_LEN 72
typedef struct {
  uint64_t discriminator;
  SolPubkey job;
  uint8_t seed[32];
} SeedRevealedEvent;
_Static_assert(offsetof(SeedRevealedEvent, job) == 8, "SeedRevealedEvent.job");
_Static_assert(offsetof(SeedRevealedEvent, seed) == 40, "SeedRevealedEvent.seed");

#define EVENT_JOB_CANCELLED_DISCRIMINATOR 0xbf4a8630828f54cbULL
#define EVENT_JOB_CANCELLED_LEN 48
typedef struct {
  uint64_t discriminator;
  SolPubkey job;
  uint64_t refunded;
} JobCancelledEvent;
_Static_assert(offsetof(JobCancelledEvent, job) == 8, "JobCancelledEvent.job");
_Static_assert(offsetof(JobCancelledEvent, refunded) == 40, "JobCancelledEvent.refunded");

#define EVENT_JOB_REFUNDED_DISCRIMINATOR 0xa708ae11256fab9cULL
#define EVENT_JOB_REFUNDED_LEN 56
typedef struct {
  uint64_t discriminator;
  SolPubkey job;
  uint64_t refunded;
  uint64_t escrow;
} JobRefundedEvent;
_Static_assert(offsetof(JobRefundedEvent, job) == 8, "JobRefundedEvent.job");
_Static_assert(offsetof(JobRefundedEvent, refunded) == 40, "JobRefundedEvent.refunded");
_Static_assert(offsetof(JobRefundedEvent, escrow) == 48, "JobRefundedEvent.escrow");

#define EVENT_JOB_CLOSED_DISCRIMINATOR 0x3702d4ae99f33f7bULL
#define EVENT_JOB_CLOSED_LEN 48
typedef struct {
  uint64_t discriminator;
  SolPubkey job;
  uint64_t refunded;
} JobClosedEvent;
_Static_assert(offsetof(JobClosedEvent, job) == 8, "JobClosedEvent.job");
_Static_assert(offsetof(JobClosedEvent, refunded) == 40, "JobClosedEvent.refunded");

#define EVENT_ASSIGNMENT_CLOSED_DISCRIMINATOR 0x481984771a87913dULL
#define EVENT_ASSIGNMENT_CLOSED_LEN 48
typedef struct {
  uint64_t discriminator;
  SolPubkey assignment;
  uint64_t refunded;
} AssignmentClosedEvent;
_Static_assert(offsetof(AssignmentClosedEvent, assignment) == 8, "AssignmentClosedEvent.assignment");
_Static_assert(offsetof(AssignmentClosedEvent, refunded) == 40, "AssignmentClosedEvent.refunded");

#define EVENT_CACHED_SERVED_DISCRIMINATOR 0x4325d0405e4680b4ULL
#define EVENT_CACHED_SERVED_LEN 176
typedef struct {
  uint64_t discriminator;
  SolPubkey job;
  uint8_t shards[128];
  uint64_t paid;
} CachedServedEvent;
_Static_assert(offsetof(CachedServedEvent, job) == 8, "CachedServedEvent.job");
_Static_assert(offsetof(CachedServedEvent, shards) == 40, "CachedServedEvent.shards");
_Static_assert(offsetof(CachedServedEvent, paid) == 168, "CachedServedEvent.paid");

#define EVENT_ASSIGNMENT_UNWOUND_DISCRIMINATOR 0x4621ec7d40be8424ULL
#define EVENT_ASSIGNMENT_UNWOUND_LEN 80
typedef struct {
  uint64_t discriminator;
  SolPubkey job;
  SolPubkey provider;
  uint64_t released;
} AssignmentUnwoundEvent;
_Static_assert(offsetof(AssignmentUnwoundEvent, job) == 8, "AssignmentUnwoundEvent.job");
_Static_assert(offsetof(AssignmentUnwoundEvent, provider) == 40, "AssignmentUnwoundEvent.provider");
_Static_assert(offsetof(AssignmentUnwoundEvent, released) == 72, "AssignmentUnwoundEvent.released");

#define EVENT_CHANNEL_OPENED_DISCRIMINATOR 0xaa2fbc1f60ffd5fdULL
#define EVENT_CHANNEL_OPENED_LEN 160
typedef struct {
  uint64_t discriminator;
  SolPubkey market;
  SolPubkey channel;
  SolPubkey owner;
  SolPubkey authorizer;
  uint64_t deposit;
  uint64_t generation;
  int64_t withdraw_delay;
} ChannelOpenedEvent;
_Static_assert(offsetof(ChannelOpenedEvent, market) == 8, "ChannelOpenedEvent.market");
_Static_assert(offsetof(ChannelOpenedEvent, channel) == 40, "ChannelOpenedEvent.channel");
_Static_assert(offsetof(ChannelOpenedEvent, owner) == 72, "ChannelOpenedEvent.owner");
_Static_assert(offsetof(ChannelOpenedEvent, authorizer) == 104, "ChannelOpenedEvent.authorizer");
_Static_assert(offsetof(ChannelOpenedEvent, deposit) == 136, "ChannelOpenedEvent.deposit");
_Static_assert(offsetof(ChannelOpenedEvent, generation) == 144, "ChannelOpenedEvent.generation");
_Static_assert(offsetof(ChannelOpenedEvent, withdraw_delay) == 152, "ChannelOpenedEvent.withdraw_delay");

#define EVENT_CHANNEL_TOPPED_UP_DISCRIMINATOR 0x733c0c5020b1e136ULL
#define EVENT_CHANNEL_TOPPED_UP_LEN 48
typedef struct {
  uint64_t discriminator;
  SolPubkey channel;
  uint64_t amount;
} ChannelToppedUpEvent;
_Static_assert(offsetof(ChannelToppedUpEvent, channel) == 8, "ChannelToppedUpEvent.channel");
_Static_assert(offsetof(ChannelToppedUpEvent, amount) == 40, "ChannelToppedUpEvent.amount");

#define EVENT_CHANNEL_CLAIMED_DISCRIMINATOR 0xc44af547acbe2502ULL
#define EVENT_CHANNEL_CLAIMED_LEN 96
typedef struct {
  uint64_t discriminator;
  SolPubkey channel;
  SolPubkey job;
  uint64_t voucher_amount;
  uint64_t escrow;
  uint64_t claimed;
} ChannelClaimedEvent;
_Static_assert(offsetof(ChannelClaimedEvent, channel) == 8, "ChannelClaimedEvent.channel");
_Static_assert(offsetof(ChannelClaimedEvent, job) == 40, "ChannelClaimedEvent.job");
_Static_assert(offsetof(ChannelClaimedEvent, voucher_amount) == 72, "ChannelClaimedEvent.voucher_amount");
_Static_assert(offsetof(ChannelClaimedEvent, escrow) == 80, "ChannelClaimedEvent.escrow");
_Static_assert(offsetof(ChannelClaimedEvent, claimed) == 88, "ChannelClaimedEvent.claimed");

#define EVENT_WITHDRAW_REQUESTED_DISCRIMINATOR 0x2797805dcef01072ULL
#define EVENT_WITHDRAW_REQUESTED_LEN 48
typedef struct {
  uint64_t discriminator;
  SolPubkey channel;
  int64_t withdrawable_at;
} WithdrawRequestedEvent;
_Static_assert(offsetof(WithdrawRequestedEvent, channel) == 8, "WithdrawRequestedEvent.channel");
_Static_assert(offsetof(WithdrawRequestedEvent, withdrawable_at) == 40, "WithdrawRequestedEvent.withdrawable_at");

#define EVENT_CHANNEL_WITHDRAWN_DISCRIMINATOR 0x059797bf3d5db912ULL
#define EVENT_CHANNEL_WITHDRAWN_LEN 48
typedef struct {
  uint64_t discriminator;
  SolPubkey channel;
  uint64_t amount;
} ChannelWithdrawnEvent;
_Static_assert(offsetof(ChannelWithdrawnEvent, channel) == 8, "ChannelWithdrawnEvent.channel");
_Static_assert(offsetof(ChannelWithdrawnEvent, amount) == 40, "ChannelWithdrawnEvent.amount");
