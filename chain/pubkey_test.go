package chain

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"math/big"
	"testing"
)

// Affine twisted Edwards arithmetic on edwards25519 (-x² + y² = 1 + d·x²·y²)
// over big.Int: slow and simple, enough to derive the blocklist from the
// curve rather than trust a copied table.
var (
	curveP = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
	curveD = func() *big.Int {
		d := new(big.Int).ModInverse(big.NewInt(121666), curveP)
		d.Mul(d, big.NewInt(-121665))
		return d.Mod(d, curveP)
	}()
	// sqrtM1 = 2^((p-1)/4), a square root of -1.
	sqrtM1 = new(big.Int).Exp(big.NewInt(2), new(big.Int).Rsh(new(big.Int).Sub(curveP, big.NewInt(1)), 2), curveP)
)

type point struct{ x, y *big.Int }

func modP(v *big.Int) *big.Int { return v.Mod(v, curveP) }

func mulP(a ...*big.Int) *big.Int {
	r := big.NewInt(1)
	for _, v := range a {
		r = modP(r.Mul(r, v))
	}
	return r
}

func invP(v *big.Int) *big.Int { return new(big.Int).ModInverse(v, curveP) }

// decodePoint decodes a key as crypto/ed25519 does: y is read modulo p (so
// non-canonical y ≥ p is accepted) and x = 0 with the sign bit set is taken
// as x = 0. ok is false when no x fits.
func decodePoint(enc [32]byte) (pt point, ok bool) {
	le := enc
	sign := le[31] >> 7
	le[31] &= 0x7f
	be := make([]byte, 32)
	for i := range le {
		be[31-i] = le[i]
	}
	y := modP(new(big.Int).SetBytes(be))
	yy := mulP(y, y)
	u := modP(new(big.Int).Sub(yy, big.NewInt(1)))
	v := modP(new(big.Int).Add(mulP(curveD, yy), big.NewInt(1)))
	xx := mulP(u, invP(v))
	x := new(big.Int).Exp(xx, new(big.Int).Rsh(new(big.Int).Add(curveP, big.NewInt(3)), 3), curveP)
	if mulP(x, x).Cmp(xx) != 0 {
		x = mulP(x, sqrtM1)
	}
	if mulP(x, x).Cmp(xx) != 0 {
		return point{}, false
	}
	if uint(x.Bit(0)) != uint(sign) {
		x = modP(x.Neg(x))
	}
	return point{x, y}, true
}

func addPoints(a, b point) point {
	t := mulP(curveD, a.x, b.x, a.y, b.y)
	xn := modP(new(big.Int).Add(mulP(a.x, b.y), mulP(a.y, b.x)))
	yn := modP(new(big.Int).Add(mulP(a.y, b.y), mulP(a.x, b.x)))
	xd := modP(new(big.Int).Add(big.NewInt(1), t))
	yd := modP(new(big.Int).Sub(big.NewInt(1), t))
	return point{mulP(xn, invP(xd)), mulP(yn, invP(yd))}
}

func timesEight(p point) point {
	for i := 0; i < 3; i++ {
		p = addPoints(p, p)
	}
	return p
}

func isIdentity(p point) bool { return p.x.Sign() == 0 && p.y.Cmp(big.NewInt(1)) == 0 }

func leBytes(v *big.Int) [32]byte {
	var out [32]byte
	be := v.FillBytes(make([]byte, 32))
	for i := range be {
		out[31-i] = be[i]
	}
	return out
}

// smallOrderEncodings is every 32-byte key the blocklist refuses: each
// listed y with the sign bit clear and set.
func smallOrderEncodings() [][32]byte {
	var out [][32]byte
	for _, y := range smallOrderY {
		neg := y
		neg[31] |= 0x80
		out = append(out, y, neg)
	}
	return out
}

// TestSmallOrderBlocklist derives the blocklist from the curve: every entry
// decodes to a point P with [8]P the identity, the entries cover eight
// distinct points (all there are, since the group is Z/8 × Z/L), every y ≥ p
// that decodes to a small-order point is listed, and the base point, of
// prime order L, is not refused.
func TestSmallOrderBlocklist(t *testing.T) {
	distinct := map[string]bool{}
	for _, enc := range smallOrderEncodings() {
		pt, ok := decodePoint(enc)
		if !ok {
			t.Errorf("%x does not decode to a curve point", enc)
			continue
		}
		if !isIdentity(timesEight(pt)) {
			t.Errorf("%x: [8]P is not the identity", enc)
		}
		if !smallOrderKey(enc[:]) {
			t.Errorf("%x not refused", enc)
		}
		distinct[pt.x.String()+","+pt.y.String()] = true
	}
	if len(distinct) != 8 {
		t.Errorf("blocklist covers %d distinct points, want the 8 of order dividing 8", len(distinct))
	}
	// Non-canonical y: p + k for k = 0..18 are the only values below 2^255.
	for k := int64(0); k < 19; k++ {
		enc := leBytes(new(big.Int).Add(curveP, big.NewInt(k)))
		if pt, ok := decodePoint(enc); ok && isIdentity(timesEight(pt)) && !smallOrderKey(enc[:]) {
			t.Errorf("non-canonical y = p+%d is small order and not refused", k)
		}
	}
	base := leBytes(mulP(big.NewInt(4), invP(big.NewInt(5)))) // y = 4/5, x even
	pt, ok := decodePoint(base)
	if !ok || isIdentity(timesEight(pt)) {
		t.Fatal("base point must decode and not be of small order: the check above would be vacuous")
	}
	if smallOrderKey(base[:]) {
		t.Error("base point refused")
	}
	if smallOrderKey(make([]byte, 31)) {
		t.Error("a 31-byte key is for the length rule, not this one")
	}
}

// ForgeSmallOrder returns tx, from the address of pub, signed without a
// private key: it tries R among the small-order encodings with S = 0 and
// nonces from tx.Nonce up until crypto/ed25519 accepts one. ok is false if
// none of 64 nonces works (the key does not decode, for one).
func ForgeSmallOrder(p *Params, tx *Transaction, pub []byte) (forged *Transaction, ok bool) {
	tx.PublicKey = pub
	tx.Sender = AddressFromPublicKey(pub)
	start := tx.Nonce
	for tx.Nonce = start; tx.Nonce < start+64; tx.Nonce++ {
		msg := tx.SigningBytes(p.NetworkID())
		for _, r := range smallOrderEncodings() {
			sig := make([]byte, ed25519.SignatureSize)
			copy(sig, r[:])
			if ed25519.Verify(pub, msg, sig) {
				tx.Signature = sig
				return tx, true
			}
		}
	}
	return tx, false
}

// TestSmallOrderKeyForgery shows, for every refused encoding, that the
// standard library accepts a signature made without a private key, and that
// transaction sanity refuses the transfer with ErrSmallOrderKey.
func TestSmallOrderKeyForgery(t *testing.T) {
	p := RegTest()
	recipient := AddressFromPublicKey(make([]byte, 32))
	for _, enc := range smallOrderEncodings() {
		t.Run(fmt.Sprintf("%02x..%02x", enc[0], enc[31]), func(t *testing.T) {
			tx := &Transaction{Version: TxVersion, Recipient: recipient, Amount: 10, Fee: 1}
			tx, ok := ForgeSmallOrder(p, tx, enc[:])
			if !ok {
				t.Fatalf("crypto/ed25519 accepted no forged signature for %x", enc)
			}
			if err := CheckTxSanity(p, tx); !errors.Is(err, ErrSmallOrderKey) {
				t.Fatalf("sanity: %v, want ErrSmallOrderKey", err)
			}
		})
	}
}
