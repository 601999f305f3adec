/* x25519.h: X25519 (RFC 7748), only so that a WireGuard public key can be derived from the
 * private key that wireguard-go reports. Not for key exchange on a hot path: it is the
 * plain Montgomery ladder over simple 51-bit-limb field arithmetic, constant time. */
#pragma once

#include <stdint.h>

/* out = X25519(scalar, u): scalar clamped and the u-coordinate's top bit masked as the RFC
 * says (section 5). */
void x25519(uint8_t out[32], const uint8_t scalar[32], const uint8_t u[32]);
/* The public key of a private key: X25519(priv, 9). */
void x25519_public_key(uint8_t pub[32], const uint8_t priv[32]);
