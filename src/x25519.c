/* x25519.c: X25519 as RFC 7748 section 5 writes it: the Montgomery ladder with a
 * constant-time conditional swap, over GF(2^255 - 19) in five 51-bit limbs. Used to derive a
 * WireGuard public key from a private key (wireguard-go's UAPI reports only the latter).
 * Nothing here branches on or indexes by secret data. */
#include <string.h>

#include "x25519.h"

typedef unsigned __int128 u128;

#define MASK51 ((UINT64_C(1) << 51) - 1)

/* An element of GF(p), p = 2^255 - 19, as sum(l[i] * 2^(51 i)); limbs may run a few bits
 * over 51 between operations. */
struct fe {
	uint64_t l[5];
};

static uint64_t load_le64(const uint8_t *b)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

/* Decode a u-coordinate: little-endian, the top bit ignored (section 5). */
static void fe_from_bytes(struct fe *h, const uint8_t b[32])
{
	h->l[0] = load_le64(b) & MASK51;
	h->l[1] = (load_le64(b + 6) >> 3) & MASK51;
	h->l[2] = (load_le64(b + 12) >> 6) & MASK51;
	h->l[3] = (load_le64(b + 19) >> 1) & MASK51;
	h->l[4] = (load_le64(b + 24) >> 12) & MASK51;
}

/* Bring every limb back under 2^51 (plus a little in l[0]); 2^255 wraps around as 19. */
static void fe_carry(struct fe *h)
{
	uint64_t c;

	for (int i = 0; i < 4; i++) {
		c = h->l[i] >> 51;
		h->l[i] &= MASK51;
		h->l[i + 1] += c;
	}
	c = h->l[4] >> 51;
	h->l[4] &= MASK51;
	h->l[0] += 19 * c;
	c = h->l[0] >> 51;
	h->l[0] &= MASK51;
	h->l[1] += c;
}

static void store_le64(uint8_t *b, uint64_t v)
{
	for (int i = 0; i < 8; i++, v >>= 8)
		b[i] = (uint8_t)v;
}

/* Encode the unique representative in [0, p), little-endian. */
static void fe_to_bytes(uint8_t out[32], const struct fe *f)
{
	struct fe h = *f;
	uint64_t q;

	fe_carry(&h);
	fe_carry(&h);
	/* Now h < 2^255. h >= p exactly when h + 19 reaches 2^255: q is that carry. */
	q = (h.l[0] + 19) >> 51;
	for (int i = 1; i < 5; i++)
		q = (h.l[i] + q) >> 51;
	/* Subtract p by adding 19 and dropping 2^255. */
	h.l[0] += 19 * q;
	for (int i = 0; i < 4; i++) {
		h.l[i + 1] += h.l[i] >> 51;
		h.l[i] &= MASK51;
	}
	h.l[4] &= MASK51;
	store_le64(out, h.l[0] | h.l[1] << 51);
	store_le64(out + 8, h.l[1] >> 13 | h.l[2] << 38);
	store_le64(out + 16, h.l[2] >> 26 | h.l[3] << 25);
	store_le64(out + 24, h.l[3] >> 39 | h.l[4] << 12);
	explicit_bzero(&h, sizeof(h));
}

static void fe_add(struct fe *h, const struct fe *f, const struct fe *g)
{
	for (int i = 0; i < 5; i++)
		h->l[i] = f->l[i] + g->l[i];
	fe_carry(h);
}

/* f - g computed as f + 4p - g, so no limb underflows while g's limbs stay under 2^53. */
static void fe_sub(struct fe *h, const struct fe *f, const struct fe *g)
{
	h->l[0] = f->l[0] + ((UINT64_C(1) << 53) - 76) - g->l[0];
	for (int i = 1; i < 5; i++)
		h->l[i] = f->l[i] + ((UINT64_C(1) << 53) - 4) - g->l[i];
	fe_carry(h);
}

static void fe_mul(struct fe *h, const struct fe *f, const struct fe *g)
{
	const uint64_t *a = f->l, *b = g->l;
	u128 t[5];
	uint64_t c;

	/* Schoolbook product; a term of weight 2^(51 k), k >= 5, is 2^255 * ... = 19 * ... */
	t[0] = (u128)a[0] * b[0] +
	       19 * ((u128)a[1] * b[4] + (u128)a[2] * b[3] + (u128)a[3] * b[2] + (u128)a[4] * b[1]);
	t[1] = (u128)a[0] * b[1] + (u128)a[1] * b[0] +
	       19 * ((u128)a[2] * b[4] + (u128)a[3] * b[3] + (u128)a[4] * b[2]);
	t[2] = (u128)a[0] * b[2] + (u128)a[1] * b[1] + (u128)a[2] * b[0] +
	       19 * ((u128)a[3] * b[4] + (u128)a[4] * b[3]);
	t[3] = (u128)a[0] * b[3] + (u128)a[1] * b[2] + (u128)a[2] * b[1] + (u128)a[3] * b[0] +
	       19 * (u128)a[4] * b[4];
	t[4] = (u128)a[0] * b[4] + (u128)a[1] * b[3] + (u128)a[2] * b[2] + (u128)a[3] * b[1] +
	       (u128)a[4] * b[0];
	for (int i = 0; i < 4; i++) {
		t[i + 1] += t[i] >> 51;
		h->l[i] = (uint64_t)t[i] & MASK51;
	}
	c = (uint64_t)(t[4] >> 51);
	h->l[4] = (uint64_t)t[4] & MASK51;
	h->l[0] += 19 * c; /* c < 2^64 / 19 for limbs under 2^54 */
	fe_carry(h);
}

static void fe_sq(struct fe *h, const struct fe *f)
{
	fe_mul(h, f, f);
}

static void fe_mul_small(struct fe *h, const struct fe *f, uint32_t s)
{
	u128 t[5];
	uint64_t c;

	for (int i = 0; i < 5; i++)
		t[i] = (u128)f->l[i] * s;
	for (int i = 0; i < 4; i++) {
		t[i + 1] += t[i] >> 51;
		h->l[i] = (uint64_t)t[i] & MASK51;
	}
	c = (uint64_t)(t[4] >> 51);
	h->l[4] = (uint64_t)t[4] & MASK51;
	h->l[0] += 19 * c;
	fe_carry(h);
}

/* 1/z = z^(p-2) (Fermat). The exponent is public, so square-and-multiply over its bits is
 * constant time. */
static void fe_invert(struct fe *out, const struct fe *z)
{
	/* p - 2 = 2^255 - 21, little-endian */
	static const uint8_t e[32] = {0xeb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
				      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
				      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
				      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
	struct fe r = {{1}};

	for (int i = 254; i >= 0; i--) {
		fe_sq(&r, &r);
		if ((e[i / 8] >> (i % 8)) & 1)
			fe_mul(&r, &r, z);
	}
	*out = r;
}

/* Swap f and g if swap is 1, without a branch (section 5's cswap). */
static void fe_cswap(struct fe *f, struct fe *g, uint64_t swap)
{
	uint64_t mask = 0 - swap;

	for (int i = 0; i < 5; i++) {
		uint64_t t = mask & (f->l[i] ^ g->l[i]);

		f->l[i] ^= t;
		g->l[i] ^= t;
	}
}

void x25519(uint8_t out[32], const uint8_t scalar[32], const uint8_t u[32])
{
	struct fe x1, x2 = {{1}}, z2 = {{0}}, x3, z3 = {{1}};
	struct fe a, aa, b, bb, e, c, d, da, cb, t;
	uint8_t k[32];
	uint64_t swap = 0;

	/* decodeScalar25519: clear the three low bits and the top bit, set bit 254 */
	memcpy(k, scalar, 32);
	k[0] &= 248;
	k[31] &= 127;
	k[31] |= 64;
	fe_from_bytes(&x1, u);
	x3 = x1;
	for (int i = 254; i >= 0; i--) {
		uint64_t bit = (k[i / 8] >> (i % 8)) & 1;

		swap ^= bit;
		fe_cswap(&x2, &x3, swap);
		fe_cswap(&z2, &z3, swap);
		swap = bit;

		fe_add(&a, &x2, &z2); /* A = x_2 + z_2 */
		fe_sq(&aa, &a);	      /* AA = A^2 */
		fe_sub(&b, &x2, &z2); /* B = x_2 - z_2 */
		fe_sq(&bb, &b);	      /* BB = B^2 */
		fe_sub(&e, &aa, &bb); /* E = AA - BB */
		fe_add(&c, &x3, &z3); /* C = x_3 + z_3 */
		fe_sub(&d, &x3, &z3); /* D = x_3 - z_3 */
		fe_mul(&da, &d, &a);  /* DA = D * A */
		fe_mul(&cb, &c, &b);  /* CB = C * B */
		fe_add(&t, &da, &cb); /* x_3 = (DA + CB)^2 */
		fe_sq(&x3, &t);
		fe_sub(&t, &da, &cb); /* z_3 = x_1 * (DA - CB)^2 */
		fe_sq(&t, &t);
		fe_mul(&z3, &x1, &t);
		fe_mul(&x2, &aa, &bb);	      /* x_2 = AA * BB */
		fe_mul_small(&t, &e, 121665); /* z_2 = E * (AA + a24 * E) */
		fe_add(&t, &aa, &t);
		fe_mul(&z2, &e, &t);
	}
	fe_cswap(&x2, &x3, swap);
	fe_cswap(&z2, &z3, swap);
	fe_invert(&z2, &z2);
	fe_mul(&x2, &x2, &z2);
	fe_to_bytes(out, &x2);

	explicit_bzero(k, sizeof(k));
	explicit_bzero(&x2, sizeof(x2));
	explicit_bzero(&z2, sizeof(z2));
	explicit_bzero(&x3, sizeof(x3));
	explicit_bzero(&z3, sizeof(z3));
}

void x25519_public_key(uint8_t pub[32], const uint8_t priv[32])
{
	static const uint8_t nine[32] = {9};

	x25519(pub, priv, nine);
}
