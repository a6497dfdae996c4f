/* What the entrypoint parses out of the runtime's input buffer, zero-copy:
 * account infos point into the buffer, so writes to lamports and data are
 * the writes the runtime commits. */
#pragma once
#include "tessera/idl.h"

/* The most accounts an instruction takes: settle with 9 assignments; the
 * parsed infos live on the 4 KiB stack frame. */
#define MAX_ACCOUNTS 32

typedef struct {
  SolAccountInfo accounts[MAX_ACCOUNTS];
  uint64_t account_count;
  const uint8_t *data;
  uint64_t data_len;
  /* Copied out of the buffer, where it follows the instruction data at an
   * arbitrary offset, so it is 8-byte aligned like every other key. */
  SolPubkey program_id;
} Context;
