#ifndef CASEMESH_SHA_H
#define CASEMESH_SHA_H

#include <stddef.h>
#include <stdint.h>

/// SHA-256's 64 round constants.
extern const uint32_t casemesh_sha256_k[64];

/// 1 when this CPU has the SHA extensions (x86-64 SHA-NI with SSSE3 and SSE4.1).
int casemesh_sha256_has_hardware(void);

/// Runs SHA-256's compression over `blocks` 64-byte blocks at `data`,
/// updating `state` (the eight working words, in order a…h). Only call it
/// when `casemesh_sha256_has_hardware()` returned 1.
void casemesh_sha256_blocks_hardware(uint32_t state[8], const uint8_t *data, size_t blocks);

#endif
