/* Anchor events: one sol_log_data field holding discriminator + Borsh, which
 * anchorpy's EventParser decodes from the "Program data:" log line. */
#pragma once
#include "tessera/sol.h"

static inline void emit_event(const void *event, uint64_t len) {
  SolBytes field = {(const uint8_t *)event, len};
  sol_log_data(&field, 1);
}
