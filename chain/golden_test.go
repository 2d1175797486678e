package chain

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// updateGolden rewrites the golden files from the code:
//
//	go test ./chain -run Golden -update
var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata")

// Golden files pin the exact bytes of every encoding, so a change to one is
// a deliberate act and a second implementation can check itself. They are
// plain text: '#' lines are comments, "== name" starts a value, and every
// other line is hex; a value's bytes are its hex lines concatenated. Each
// value is written field by field, one comment per field.
const (
	goldenBlockFile    = "testdata/golden_devnet_block1.txt"
	goldenBlockJSON    = "testdata/golden_devnet_block1.json"
	goldenNetworksFile = "testdata/golden_networks.txt"
)

// The vector block: height 1 on devnet, mined by key A, carrying a coinbase
// to A and a transfer of 10 (fee 1) from A to B. Its nonce meets the
// devnet target, so the block passes CheckBlockSanity.
const (
	goldenTimestamp = genesisTime + 5123 // 2026-12-05 00:00:05.123 UTC
	goldenNonce     = 415725
)

// goldenSeed returns a fixed ed25519 seed: 32 consecutive byte values
// starting at first.
func goldenSeed(first byte) []byte {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = first + byte(i)
	}
	return seed
}

// goldenVectors is everything the golden block file pins.
type goldenVectors struct {
	params     *Params
	keyA, keyB ed25519.PrivateKey
	addrA      string
	addrB      string
	tx         *Transaction
	coinbase   *Transaction
	block      *Block
}

func newGoldenVectors() *goldenVectors {
	g := &goldenVectors{params: DevNet()}
	g.keyA = ed25519.NewKeyFromSeed(goldenSeed(0x00))
	g.keyB = ed25519.NewKeyFromSeed(goldenSeed(0x20))
	g.addrA = AddressFromPublicKey(g.keyA.Public().(ed25519.PublicKey))
	g.addrB = AddressFromPublicKey(g.keyB.Public().(ed25519.PublicKey))
	g.tx = &Transaction{
		Version:   TxVersion,
		Sender:    g.addrA,
		Recipient: g.addrB,
		Amount:    10,
		Fee:       1,
		Nonce:     0,
	}
	g.tx.Sign(g.params.NetworkID(), g.keyA)
	g.coinbase = &Transaction{
		Version:   TxVersion,
		Sender:    CoinbaseSender,
		Recipient: g.addrA,
		Amount:    g.params.Reward + g.tx.Fee,
		Nonce:     1,
	}
	txs := []*Transaction{g.coinbase, g.tx}
	g.block = &Block{
		Header: Header{
			Version:    HeaderVersion,
			Height:     1,
			PrevHash:   g.params.NetworkID(),
			MerkleRoot: MerkleRoot(TxIDs(txs)),
			Timestamp:  goldenTimestamp,
			Bits:       g.params.PowLimitBits(),
			Nonce:      goldenNonce,
		},
		Transactions: txs,
	}
	return g
}

// goldenField is one field of a golden value: a comment and its bytes.
type goldenField struct {
	note string
	b    []byte
}

// goldenValue is one named value in a golden file.
type goldenValue struct {
	name   string
	note   string
	fields []goldenField
}

func (v goldenValue) bytes() []byte {
	var out []byte
	for _, f := range v.fields {
		out = append(out, f.b...)
	}
	return out
}

func goldenU8(v uint8) []byte    { return []byte{v} }
func goldenBE32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
func goldenBE64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// goldenTxFields breaks a transaction's encoding into fields. With
// unsigned set it stops before the signature, as SigningBytes does.
func goldenTxFields(tx *Transaction, unsigned bool) []goldenField {
	fs := []goldenField{
		{"version, uint8", goldenU8(tx.Version)},
		{fmt.Sprintf("sender length, uint8: %d", len(tx.Sender)), goldenU8(uint8(len(tx.Sender)))},
		{fmt.Sprintf("sender, UTF-8: %q", tx.Sender), []byte(tx.Sender)},
		{fmt.Sprintf("recipient length, uint8: %d", len(tx.Recipient)), goldenU8(uint8(len(tx.Recipient)))},
		{fmt.Sprintf("recipient, UTF-8: %q", tx.Recipient), []byte(tx.Recipient)},
		{fmt.Sprintf("amount, uint64 big-endian: %d", tx.Amount), goldenBE64(tx.Amount)},
		{fmt.Sprintf("fee, uint64 big-endian: %d", tx.Fee), goldenBE64(tx.Fee)},
		{fmt.Sprintf("nonce, uint64 big-endian: %d", tx.Nonce), goldenBE64(tx.Nonce)},
		{fmt.Sprintf("public key length, uint8: %d", len(tx.PublicKey)), goldenU8(uint8(len(tx.PublicKey)))},
	}
	if len(tx.PublicKey) > 0 {
		fs = append(fs, goldenField{"public key, ed25519", tx.PublicKey})
	}
	if unsigned {
		return fs
	}
	fs = append(fs, goldenField{fmt.Sprintf("signature length, uint8: %d", len(tx.Signature)), goldenU8(uint8(len(tx.Signature)))})
	if len(tx.Signature) > 0 {
		fs = append(fs, goldenField{"signature, ed25519", tx.Signature})
	}
	return fs
}

func goldenHeaderFields(h *Header) []goldenField {
	return []goldenField{
		{fmt.Sprintf("version, uint32 big-endian: %d", h.Version), goldenBE32(h.Version)},
		{fmt.Sprintf("height, uint64 big-endian: %d", h.Height), goldenBE64(h.Height)},
		{"previous block hash", h.PrevHash[:]},
		{"merkle root of the transaction ids", h.MerkleRoot[:]},
		{fmt.Sprintf("timestamp, int64 big-endian, Unix ms: %d (%s)", h.Timestamp,
			h.Time().UTC().Format("2006-01-02 15:04:05.000 UTC")), goldenBE64(uint64(h.Timestamp))},
		{fmt.Sprintf("bits, uint32 big-endian, compact target: %08x", h.Bits), goldenBE32(h.Bits)},
		{fmt.Sprintf("nonce, uint64 big-endian: %d", h.Nonce), goldenBE64(h.Nonce)},
	}
}

func goldenBlockFields(b *Block, headerName string, txNames []string) []goldenField {
	enc := b.Header.Encode()
	var count []byte
	count = binary.AppendUvarint(count, uint64(len(b.Transactions)))
	fs := []goldenField{
		{"header, 96 bytes: " + headerName + " above", enc[:]},
		{fmt.Sprintf("transaction count, unsigned LEB128 varint: %d", len(b.Transactions)), count},
	}
	for i, tx := range b.Transactions {
		fs = append(fs, goldenField{fmt.Sprintf("transaction %d: %s above", i, txNames[i]), tx.Encode()})
	}
	return fs
}

func goldenOne(note string, b []byte) []goldenField { return []goldenField{{note, b}} }

func (g *goldenVectors) addressValue(name string, key ed25519.PrivateKey) []goldenValue {
	pub := key.Public().(ed25519.PublicKey)
	sum := sha256.Sum256(pub)
	ck := addressChecksum(sum[:addrHashLen])
	addr := AddressFromPublicKey(pub)
	return []goldenValue{
		{name + ".seed", "ed25519 seed (RFC 8032 private key)", goldenOne("32 bytes", key.Seed())},
		{name + ".public_key", "ed25519 public key of the seed", goldenOne("32 bytes", pub)},
		{name + ".address_raw", "the 24 bytes an address spells in hex", []goldenField{
			{"first 20 bytes of SHA-256(public key)", sum[:addrHashLen]},
			{`checksum: first 4 bytes of SHA-256("gossipchain address" || those 20 bytes)`, ck[:]},
		}},
		{name + ".address", fmt.Sprintf("%q, as ASCII: \"gc\" then the hex of %s.address_raw", addr, name),
			goldenOne("50 bytes", []byte(addr))},
	}
}

// values lists the golden block file's contents in order.
func (g *goldenVectors) values() []goldenValue {
	net := g.params.NetworkID()
	ids := TxIDs(g.block.Transactions)
	var vs []goldenValue
	vs = append(vs, g.addressValue("key_a", g.keyA)...)
	vs = append(vs, g.addressValue("key_b", g.keyB)...)
	vs = append(vs,
		goldenValue{"network_id", "devnet network id: its genesis block hash (see golden_networks.txt)",
			goldenOne("32 bytes", net[:])},
		goldenValue{"tx.signing_bytes", "what key A signs: a context string, the network id, then the transaction encoding without its signature",
			append([]goldenField{
				{fmt.Sprintf("context, ASCII: %q", signContext), []byte(signContext)},
				{"network id", net[:]},
			}, goldenTxFields(g.tx, true)...)},
		goldenValue{"tx.signature", "ed25519 signature by key A over tx.signing_bytes (RFC 8032, deterministic)",
			goldenOne("64 bytes", g.tx.Signature)},
		goldenValue{"tx.encoding", "the transfer: 10 from key A to key B, fee 1, nonce 0, signed for devnet",
			goldenTxFields(g.tx, false)},
		goldenValue{"tx.id", "SHA-256 of tx.encoding", goldenOne("32 bytes", ids[1][:])},
		goldenValue{"coinbase.encoding", "the coinbase: sender \"0\", reward 50 plus fee 1 to key A, nonce = height 1, no key, no signature",
			goldenTxFields(g.coinbase, false)},
		goldenValue{"coinbase.id", "SHA-256 of coinbase.encoding", goldenOne("32 bytes", ids[0][:])},
		goldenValue{"merkle_root", "SHA-256(0x01 || SHA-256(0x00 || coinbase.id) || SHA-256(0x00 || tx.id)): two leaves, one inner node",
			goldenOne("32 bytes", g.block.Header.MerkleRoot[:])},
		goldenValue{"header.encoding", "block 1 header, 96 bytes", goldenHeaderFields(&g.block.Header)},
		goldenValue{"header.hash", "block hash: SHA-256 of header.encoding; at or below the devnet target",
			goldenOne("32 bytes", func() []byte { h := g.block.Hash(); return h[:] }())},
		goldenValue{"block.encoding", "block 1: header, transaction count, transactions",
			goldenBlockFields(g.block, "header.encoding", []string{"coinbase.encoding", "tx.encoding"})},
	)
	return vs
}

// goldenNetworkValues lists every predefined network's genesis.
func goldenNetworkValues() []goldenValue {
	var vs []goldenValue
	for _, name := range NetworkNames() {
		p, err := ParamsByName(name)
		if err != nil {
			panic(err)
		}
		g := p.Genesis()
		cb := g.Transactions[0]
		limit := TargetBytes(p.PowLimit)
		id := p.NetworkID()
		cbID := cb.ID()
		vs = append(vs,
			goldenValue{name + ".pow_limit", name + " proof-of-work limit: the easiest target, 256-bit big-endian",
				goldenOne(fmt.Sprintf("32 bytes, compact %08x", p.PowLimitBits()), limit[:])},
			goldenValue{name + ".genesis.coinbase", name + " genesis coinbase", goldenTxFields(cb, false)},
			goldenValue{name + ".genesis.coinbase_id", "SHA-256 of " + name + ".genesis.coinbase; the genesis merkle root is SHA-256(0x00 || this), its one leaf",
				goldenOne("32 bytes", cbID[:])},
			goldenValue{name + ".genesis.header", name + " genesis header", goldenHeaderFields(&g.Header)},
			goldenValue{name + ".genesis.block", name + " genesis block",
				goldenBlockFields(g, name+".genesis.header", []string{name + ".genesis.coinbase"})},
			goldenValue{name + ".network_id", name + " network id: SHA-256 of " + name + ".genesis.header",
				goldenOne("32 bytes", id[:])},
		)
	}
	return vs
}

// renderGolden writes values in the golden text format, 32 bytes of hex
// per line.
func renderGolden(title string, vs []goldenValue) []byte {
	var b strings.Builder
	b.WriteString("# " + strings.ReplaceAll(title, "\n", "\n# ") + "\n")
	b.WriteString("#\n# Format: '#' lines are comments; \"== name\" starts a value; every other\n")
	b.WriteString("# line is hex, and a value's bytes are its hex lines concatenated.\n")
	b.WriteString("# Integers are big-endian unless a comment says otherwise.\n")
	b.WriteString("# Regenerate with: go test ./chain -run Golden -update\n")
	for _, v := range vs {
		fmt.Fprintf(&b, "\n== %s\n# %s\n", v.name, v.note)
		for _, f := range v.fields {
			fmt.Fprintf(&b, "# %s\n", f.note)
			h := hex.EncodeToString(f.b)
			for len(h) > 64 {
				b.WriteString(h[:64] + "\n")
				h = h[64:]
			}
			if h != "" {
				b.WriteString(h + "\n")
			}
		}
	}
	return []byte(b.String())
}

// parseGolden reads the golden text format into named byte strings, in
// file order.
func parseGolden(text []byte) (names []string, vals map[string][]byte, err error) {
	vals = map[string][]byte{}
	cur := ""
	for i, line := range strings.Split(string(text), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "=="):
			cur = strings.TrimSpace(line[2:])
			if _, dup := vals[cur]; dup || cur == "" {
				return nil, nil, fmt.Errorf("line %d: empty or repeated name %q", i+1, cur)
			}
			vals[cur] = []byte{}
			names = append(names, cur)
		default:
			if cur == "" {
				return nil, nil, fmt.Errorf("line %d: hex before the first name", i+1)
			}
			b, err := hex.DecodeString(strings.Join(strings.Fields(line), ""))
			if err != nil {
				return nil, nil, fmt.Errorf("line %d: %w", i+1, err)
			}
			vals[cur] = append(vals[cur], b...)
		}
	}
	return names, vals, nil
}

// checkGoldenFile compares the file at path with vs, or rewrites it under
// -update.
func checkGoldenFile(t *testing.T, path, title string, vs []goldenValue) {
	t.Helper()
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, renderGolden(title, vs), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	names, vals, err := parseGolden(text)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	want := map[string]bool{}
	for _, v := range vs {
		want[v.name] = true
		got, ok := vals[v.name]
		if !ok {
			t.Errorf("%s: no value %q", path, v.name)
			continue
		}
		if b := v.bytes(); !bytes.Equal(got, b) {
			t.Errorf("%s: %s changed\nfile: %x\ncode: %x", path, v.name, got, b)
		}
	}
	for _, n := range names {
		if !want[n] {
			t.Errorf("%s: value %q is no longer produced", path, n)
		}
	}
}

func TestGoldenBlockVectors(t *testing.T) {
	g := newGoldenVectors()
	vs := g.values()

	// The field breakdowns must add up to what the code encodes; otherwise
	// the file would pin a wrong annotation.
	byName := map[string][]byte{}
	for _, v := range vs {
		byName[v.name] = v.bytes()
	}
	hdr := g.block.Header.Encode()
	blockHash := g.block.Hash()
	txID, cbID, net := g.tx.ID(), g.coinbase.ID(), g.params.NetworkID()
	for name, want := range map[string][]byte{
		"tx.signing_bytes":  g.tx.SigningBytes(net),
		"tx.encoding":       g.tx.Encode(),
		"tx.id":             txID[:],
		"coinbase.encoding": g.coinbase.Encode(),
		"coinbase.id":       cbID[:],
		"header.encoding":   hdr[:],
		"header.hash":       blockHash[:],
		"block.encoding":    g.block.Encode(),
		"key_a.address":     []byte(g.addrA),
	} {
		if !bytes.Equal(byName[name], want) {
			t.Errorf("%s: breakdown %x, code %x", name, byName[name], want)
		}
	}
	leafCB := sha256.Sum256(append([]byte{0x00}, cbID[:]...))
	leafTx := sha256.Sum256(append([]byte{0x00}, txID[:]...))
	inner := sha256.Sum256(append(append([]byte{0x01}, leafCB[:]...), leafTx[:]...))
	if g.block.Header.MerkleRoot != inner {
		t.Errorf("merkle root %s, want SHA-256(01 || SHA-256(00||cb) || SHA-256(00||tx)) %x", g.block.Header.MerkleRoot, inner)
	}
	if !ed25519.Verify(g.keyA.Public().(ed25519.PublicKey), g.tx.SigningBytes(net), g.tx.Signature) {
		t.Error("vector signature does not verify")
	}
	if !ValidAddress(g.addrA) || !ValidAddress(g.addrB) {
		t.Error("vector addresses are not valid")
	}
	if _, err := CheckBlockSanity(g.params, g.block); err != nil {
		t.Errorf("vector block fails sanity: %v", err)
	}

	checkGoldenFile(t, goldenBlockFile,
		"gossipchain golden vectors: block 1 on devnet with a coinbase and one signed transfer.\n"+
			"Every value below is produced by package chain and checked by chain/golden_test.go.", vs)
}

func TestGoldenBlockJSON(t *testing.T) {
	g := newGoldenVectors()
	out, err := json.MarshalIndent(g.block, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, '\n')
	if *updateGolden {
		if err := os.WriteFile(goldenBlockJSON, out, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(goldenBlockJSON)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(out, want) {
		t.Errorf("block JSON changed:\n%s\nwant:\n%s", out, want)
	}
	var back Block
	if err := json.Unmarshal(want, &back); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back.Encode(), g.block.Encode()) {
		t.Error("golden JSON does not decode to the golden block")
	}
}

func TestGoldenNetworks(t *testing.T) {
	checkGoldenFile(t, goldenNetworksFile,
		"gossipchain golden vectors: the genesis block and network id of every predefined network.\n"+
			"A network id is its genesis block hash; it is in every signed transaction's signing bytes.",
		goldenNetworkValues())
}

// TestGoldenGenesisMeetsPowLimit checks that each predefined genesis is a
// valid proof of work at its network's limit, and that the networks are
// apart.
func TestGoldenGenesisMeetsPowLimit(t *testing.T) {
	seen := map[Hash]string{}
	for _, name := range NetworkNames() {
		p, err := ParamsByName(name)
		if err != nil {
			t.Fatal(err)
		}
		g := p.Genesis()
		hash := g.Hash()
		limit := TargetBytes(p.PowLimit)
		if !HashMeetsTarget(&hash, &limit) {
			t.Errorf("%s genesis hash %s above its limit %x", name, hash, limit)
		}
		if hash != p.NetworkID() {
			t.Errorf("%s network id %s is not its genesis hash %s", name, p.NetworkID(), hash)
		}
		if g.Header.Bits != p.PowLimitBits() {
			t.Errorf("%s genesis bits %08x, want %08x", name, g.Header.Bits, p.PowLimitBits())
		}
		if _, err := CheckBlockSanity(p, g); err != nil {
			// The genesis coinbase pays a name, not an address; only the
			// header and merkle checks apply on signed networks.
			if !(p.Signed && errors.Is(err, ErrBadAddress)) {
				t.Errorf("%s genesis fails sanity: %v", name, err)
			}
		}
		if other, dup := seen[hash]; dup {
			t.Errorf("%s and %s share network id %s", name, other, hash)
		}
		seen[hash] = name
	}
	if len(seen) != 3 {
		t.Errorf("%d distinct network ids, want 3", len(seen))
	}
}

// TestGoldenShortReads feeds every truncation of the golden encodings to
// their decoders: each must fail with ErrMalformed and never panic.
func TestGoldenShortReads(t *testing.T) {
	g := newGoldenVectors()
	hdr := g.block.Header.Encode()
	blk := g.block.Encode()
	for _, tx := range []*Transaction{g.tx, g.coinbase} {
		enc := tx.Encode()
		for n := 0; n < len(enc); n++ {
			if _, _, err := DecodeTransaction(enc[:n]); !errors.Is(err, ErrMalformed) {
				t.Errorf("tx truncated to %d of %d bytes: %v, want ErrMalformed", n, len(enc), err)
			}
		}
	}
	for n := 0; n < len(hdr); n++ {
		if _, err := DecodeHeader(hdr[:n]); !errors.Is(err, ErrMalformed) {
			t.Errorf("header truncated to %d bytes: %v, want ErrMalformed", n, err)
		}
	}
	for n := 0; n < len(blk); n++ {
		if _, err := DecodeBlock(blk[:n]); !errors.Is(err, ErrMalformed) {
			t.Errorf("block truncated to %d of %d bytes: %v, want ErrMalformed", n, len(blk), err)
		}
	}
}

// TestGoldenTrailingBytes: a header or block with anything after it is
// refused; a transaction, read from the front of a larger buffer, reports
// exactly the bytes it used.
func TestGoldenTrailingBytes(t *testing.T) {
	g := newGoldenVectors()
	hdr := g.block.Header.Encode()
	for _, extra := range [][]byte{{0}, {0xff, 0xff}, hdr[:]} {
		if _, err := DecodeHeader(append(hdr[:], extra...)); !errors.Is(err, ErrMalformed) {
			t.Errorf("header + %d bytes: %v, want ErrMalformed", len(extra), err)
		}
		if _, err := DecodeBlock(append(g.block.Encode(), extra...)); !errors.Is(err, ErrMalformed) {
			t.Errorf("block + %d bytes: %v, want ErrMalformed", len(extra), err)
		}
		enc := g.tx.Encode()
		tx, used, err := DecodeTransaction(append(enc, extra...))
		if err != nil || used != len(enc) || !bytes.Equal(tx.Encode(), enc) {
			t.Errorf("tx + %d bytes: used %d of %d, err %v", len(extra), used, len(enc), err)
		}
	}
}

// TestGoldenBlockLimits: the count and size limits give their own codes.
func TestGoldenBlockLimits(t *testing.T) {
	g := newGoldenVectors()
	hdr := g.block.Header.Encode()
	tooMany := binary.AppendUvarint(hdr[:], MaxBlockTxs+1)
	if _, err := DecodeBlock(tooMany); !errors.Is(err, ErrTooManyTxs) {
		t.Errorf("count %d: %v, want ErrTooManyTxs", MaxBlockTxs+1, err)
	}
	huge := binary.AppendUvarint(hdr[:], 1<<63)
	if _, err := DecodeBlock(huge); !errors.Is(err, ErrTooManyTxs) {
		t.Errorf("count 2^63: %v, want ErrTooManyTxs", err)
	}
	overflow := append(hdr[:], 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)
	if _, err := DecodeBlock(overflow); !errors.Is(err, ErrMalformed) {
		t.Errorf("varint over 64 bits: %v, want ErrMalformed", err)
	}
	oversize := make([]byte, MaxBlockSize+1)
	if _, err := DecodeBlock(oversize); !errors.Is(err, ErrBlockTooBig) {
		t.Errorf("%d bytes: %v, want ErrBlockTooBig", len(oversize), err)
	}
}

// TestDecodeBlockNonMinimalCount is the regression test for a block
// malleability. The attack: take a valid block and rewrite its
// transaction count 0x02 as 0x82 0x00 (or any longer zero-padded LEB128).
// binary.Uvarint accepts the padded form, so the block decodes to the same
// block and hash, but its bytes, and so its gossip message id, differ: each
// padding (up to nine) republishes a block past the seen cache, and one block has several encodings of different sizes.
func TestDecodeBlockNonMinimalCount(t *testing.T) {
	g := newGoldenVectors()
	enc := g.block.Encode()
	for width := 2; width <= binary.MaxVarintLen64; width++ {
		count := []byte{0x82}
		for len(count) < width-1 {
			count = append(count, 0x80)
		}
		count = append(count, 0x00)
		padded := append([]byte(nil), enc[:HeaderSize]...)
		padded = append(padded, count...)
		padded = append(padded, enc[HeaderSize+1:]...)
		if _, err := DecodeBlock(padded); !errors.Is(err, ErrMalformed) {
			t.Errorf("count 2 as %x: %v, want ErrMalformed", count, err)
		}
	}
}
