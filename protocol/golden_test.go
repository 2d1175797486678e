package protocol

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/gossipchain/gossipchain/chain"
	"github.com/gossipchain/gossipchain/protocol/pb"
)

// updateGolden rewrites the golden file from the code:
//
//	go test ./protocol -run Golden -update
var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenFile pins the exact bytes of every sync message as it crosses the
// wire, length prefix included, so a change to the schema or the codec is
// a deliberate act and a second implementation can check itself against
// it. Same format as chain's golden files: '#' lines are comments, "==
// name" starts a value, every other line is hex, and a value's bytes are
// its hex lines concatenated. The comments are generated from the schema
// and walk the bytes field by field, down to header and transaction
// fields.
const goldenFile = "testdata/golden_sync.txt"

// goldenCase is one message: how it is built, and how to read it back
// from the golden bytes through the same path a node uses.
type goldenCase struct {
	name, about string
	msg         proto.Message // *pb.Request or *pb.Response
	check       func(t *testing.T, r *Reader)
}

func goldenCases() []goldenCase {
	st := testStatus()
	hdrs := testHeaders(hashOf("loc 1"), 3)
	getHeaders := testGetHeaders()
	getHeaders.Stop = hdrs[2].Hash()
	blk := testBlock()
	blockHashes := []chain.Hash{blk.Hash(), hashOf("another block")}

	return []goldenCase{
		{
			name: "request.status", about: "the opener of a status exchange",
			msg: StatusRequest(st),
			check: func(t *testing.T, r *Reader) {
				req := mustReadRequest(t, r)
				got, err := StatusFromPB(req.GetStatus())
				if err != nil || !statusEqual(got, st) {
					t.Errorf("StatusFromPB = %+v, %v; want %+v", got, err, st)
				}
			},
		},
		{
			name: "response.status", about: "the answer to a status request",
			msg: StatusResponse(st),
			check: func(t *testing.T, r *Reader) {
				got, err := StatusFromResponse(mustReadResponse(t, r))
				if err != nil || !statusEqual(got, st) {
					t.Errorf("StatusFromResponse = %+v, %v; want %+v", got, err, st)
				}
			},
		},
		{
			name: "request.get_headers", about: "three locator hashes, a stop hash, the largest max",
			msg: GetHeadersRequest(getHeaders),
			check: func(t *testing.T, r *Reader) {
				got, err := ValidateGetHeaders(mustReadRequest(t, r).GetGetHeaders())
				if err != nil || !reflect.DeepEqual(got, getHeaders) {
					t.Errorf("ValidateGetHeaders = %+v, %v; want %+v", got, err, getHeaders)
				}
			},
		},
		{
			name: "response.headers", about: "three linked headers answering request.get_headers, the last the stop hash",
			msg: HeadersResponse(hdrs),
			check: func(t *testing.T, r *Reader) {
				got, err := HeadersFromResponse(mustReadResponse(t, r), getHeaders)
				if err != nil || !reflect.DeepEqual(got, hdrs) {
					t.Errorf("HeadersFromResponse = %+v, %v; want %+v", got, err, hdrs)
				}
			},
		},
		{
			name: "request.get_blocks", about: "two block hashes",
			msg: GetBlocksRequest(blockHashes),
			check: func(t *testing.T, r *Reader) {
				got, err := ValidateGetBlocks(mustReadRequest(t, r).GetGetBlocks())
				if err != nil || !reflect.DeepEqual(got, blockHashes) {
					t.Errorf("ValidateGetBlocks = %v, %v; want %v", got, err, blockHashes)
				}
			},
		},
		{
			name: "response.block", about: "the first block of request.get_blocks: a coinbase and one transfer",
			msg: BlockResponse(blk),
			check: func(t *testing.T, r *Reader) {
				got, err := BlockFromResponse(mustReadResponse(t, r), blockHashes[0])
				if err != nil || !reflect.DeepEqual(got, blk) {
					t.Errorf("BlockFromResponse = %+v, %v; want %+v", got, err, blk)
				}
			},
		},
		{
			name: "response.error", about: "a refusal: rate limited",
			msg: ErrorResponse(CodeRateLimited, "slow down"),
			check: func(t *testing.T, r *Reader) {
				_, err := HeadersFromResponse(mustReadResponse(t, r), getHeaders)
				var re *RemoteError
				if !errors.As(err, &re) || *re != (RemoteError{CodeRateLimited, "slow down"}) {
					t.Errorf("HeadersFromResponse error = %v; want a RemoteError RateLimited \"slow down\"", err)
				}
			},
		},
	}
}

func mustReadRequest(t *testing.T, r *Reader) *pb.Request {
	t.Helper()
	m, err := r.ReadRequest()
	if err != nil {
		t.Fatalf("ReadRequest: %v", err)
	}
	return m
}

func mustReadResponse(t *testing.T, r *Reader) *pb.Response {
	t.Helper()
	m, err := r.ReadResponse()
	if err != nil {
		t.Fatalf("ReadResponse: %v", err)
	}
	return m
}

func statusEqual(a, b Status) bool {
	return a.Genesis == b.Genesis && a.Tip == b.Tip && a.Height == b.Height &&
		a.Work != nil && b.Work != nil && a.Work.Cmp(b.Work) == 0
}

// encodeCase returns the delimited bytes of c, as Writer sends them.
func encodeCase(t testing.TB, c goldenCase) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := NewWriter(&buf)
	var err error
	switch m := c.msg.(type) {
	case *pb.Request:
		err = w.WriteRequest(m)
	case *pb.Response:
		err = w.WriteResponse(m)
	}
	if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	return buf.Bytes()
}

func TestGolden(t *testing.T) {
	cases := goldenCases()
	var text strings.Builder
	text.WriteString(`# gossipchain golden vectors: every sync protocol message as it crosses
# the wire, an unsigned varint length prefix then protobuf (pb/sync.proto).
# Produced by package protocol and checked by protocol/golden_test.go.
#
# Format: '#' lines are comments; "== name" starts a value; every other
# line is hex, and a value's bytes are its hex lines concatenated.
# Integers inside headers and transactions are big-endian; protobuf
# varints are LEB128. Hashes are named by what they are SHA-256 of.
# Regenerate with: go test ./protocol -run Golden -update
`)
	for _, c := range cases {
		fmt.Fprintf(&text, "\n== %s\n# %s\n", c.name, c.about)
		annotateDelimited(&text, encodeCase(t, c), c.msg.ProtoReflect().Descriptor())
	}
	if *updateGolden {
		if err := os.WriteFile(goldenFile, []byte(text.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}

	file, err := os.ReadFile(goldenFile)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	values := parseGolden(t, file)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want, ok := values[c.name]
			if !ok {
				t.Fatalf("no value %q in %s", c.name, goldenFile)
			}
			if got := encodeCase(t, c); !bytes.Equal(got, want) {
				t.Errorf("encoding changed:\n got %x\nwant %x", got, want)
			}
			r := NewReader(bytes.NewReader(want))
			c.check(t, r)
			if _, err := r.ReadResponse(); err != io.EOF {
				t.Errorf("after the message: %v, want io.EOF", err)
			}
		})
	}
	if string(file) != text.String() {
		t.Errorf("%s: comments are stale; run go test ./protocol -run Golden -update and review the diff", goldenFile)
	}
}

// goldenValues returns the bytes of every golden message, by name.
func goldenValues(t testing.TB) map[string][]byte {
	t.Helper()
	file, err := os.ReadFile(goldenFile)
	if err != nil {
		t.Fatal(err)
	}
	return parseGolden(t, file)
}

func parseGolden(t testing.TB, file []byte) map[string][]byte {
	t.Helper()
	out := make(map[string][]byte)
	var name string
	sc := bufio.NewScanner(bytes.NewReader(file))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "== "):
			name = strings.TrimPrefix(line, "== ")
			out[name] = []byte{}
		case name == "":
			t.Fatalf("%s:%d: hex before the first value", goldenFile, n)
		default:
			b, err := hex.DecodeString(line)
			if err != nil {
				t.Fatalf("%s:%d: %v", goldenFile, n, err)
			}
			out[name] = append(out[name], b...)
		}
	}
	return out
}

// The annotator walks encoded bytes with protowire and the schema's
// descriptors, writing a comment line for each field and the field's
// bytes under it. It trusts its input: it only ever sees our encoder's
// output.

type annotator struct {
	w      *strings.Builder
	labels map[chain.Hash]string // names for hashes that appear in values
}

func annotateDelimited(w *strings.Builder, b []byte, md protoreflect.MessageDescriptor) {
	a := annotator{w: w, labels: hashLabels()}
	n, vn := protowire.ConsumeVarint(b)
	a.line(0, fmt.Sprintf("length prefix: %d bytes of %s follow", n, md.Name()), b[:vn])
	a.message(0, b[vn:], md)
}

// hashLabels names every hash the golden values hold.
func hashLabels() map[chain.Hash]string {
	m := make(map[chain.Hash]string)
	for _, s := range []string{"genesis", "tip", "loc 0", "loc 1", "another block"} {
		m[hashOf(s)] = fmt.Sprintf("SHA-256(%q)", s)
	}
	for i := range 26 {
		s := "merkle" + string(rune('a'+i))
		m[hashOf(s)] = fmt.Sprintf("SHA-256(%q)", s)
	}
	for i, h := range testHeaders(hashOf("loc 1"), 3) {
		m[h.Hash()] = fmt.Sprintf("hash of header %d", i)
	}
	return m
}

func (a *annotator) line(depth int, comment string, b []byte) {
	fmt.Fprintf(a.w, "# %s%s\n", strings.Repeat("  ", depth), comment)
	for len(b) > 0 {
		n := min(len(b), 32)
		a.w.WriteString(hex.EncodeToString(b[:n]))
		a.w.WriteByte('\n')
		b = b[n:]
	}
}

func (a *annotator) message(depth int, b []byte, md protoreflect.MessageDescriptor) {
	for len(b) > 0 {
		num, typ, tn := protowire.ConsumeTag(b)
		fd := md.Fields().ByNumber(num)
		field := fmt.Sprintf("%s.%s (field %d", md.Name(), fd.Name(), num)
		switch typ {
		case protowire.VarintType:
			v, vn := protowire.ConsumeVarint(b[tn:])
			a.line(depth, fmt.Sprintf("%s, varint %s) = %d", field, fd.Kind(), v), b[:tn+vn])
			b = b[tn+vn:]
		case protowire.BytesType:
			v, vn := protowire.ConsumeBytes(b[tn:])
			head := b[:tn+vn-len(v)]
			if fd.Kind() == protoreflect.MessageKind {
				a.line(depth, fmt.Sprintf("%s, message %s): tag, length %d", field, fd.Message().Name(), len(v)), head)
				a.message(depth+1, v, fd.Message())
			} else {
				a.line(depth, fmt.Sprintf("%s, %s): tag, length %d", field, fd.Kind(), len(v)), head)
				a.value(depth+1, fd, v)
			}
			b = b[tn+vn:]
		default:
			panic(fmt.Sprintf("annotator: wire type %d", typ))
		}
	}
}

func (a *annotator) value(depth int, fd protoreflect.FieldDescriptor, v []byte) {
	switch {
	case fd.FullName() == "gossipchain.sync.v1.Headers.headers":
		a.header(depth, v)
	case fd.FullName() == "gossipchain.sync.v1.Block.block":
		a.block(depth, v)
	case fd.FullName() == "gossipchain.sync.v1.Status.total_work":
		a.line(depth, fmt.Sprintf("work %d", new(big.Int).SetBytes(v)), v)
	case fd.Kind() == protoreflect.StringKind:
		a.line(depth, strconv.Quote(string(v)), v)
	case len(v) == chain.HashSize:
		a.line(depth, a.hashName(chain.Hash(v)), v)
	default:
		a.line(depth, fmt.Sprintf("%d bytes", len(v)), v)
	}
}

func (a *annotator) hashName(h chain.Hash) string {
	if s, ok := a.labels[h]; ok {
		return s
	}
	return "hash " + h.Short()
}

// header annotates the 96-byte canonical header encoding.
func (a *annotator) header(depth int, v []byte) {
	h, err := chain.DecodeHeader(v)
	if err != nil {
		panic(err)
	}
	a.line(depth, fmt.Sprintf("header version %d", h.Version), v[0:4])
	a.line(depth, fmt.Sprintf("height %d", h.Height), v[4:12])
	a.line(depth, "previous hash: "+a.hashName(h.PrevHash), v[12:44])
	a.line(depth, "merkle root: "+a.hashName(h.MerkleRoot), v[44:76])
	a.line(depth, fmt.Sprintf("timestamp %d (Unix ms)", h.Timestamp), v[76:84])
	a.line(depth, fmt.Sprintf("bits %#08x (compact target)", h.Bits), v[84:88])
	a.line(depth, fmt.Sprintf("nonce %d", h.Nonce), v[88:96])
}

// block annotates the canonical block encoding: header, transaction count,
// transactions.
func (a *annotator) block(depth int, v []byte) {
	a.header(depth, v[:chain.HeaderSize])
	v = v[chain.HeaderSize:]
	n, vn := binary.Uvarint(v)
	a.line(depth, fmt.Sprintf("transaction count %d (uvarint)", n), v[:vn])
	v = v[vn:]
	for i := range n {
		tx, used, err := chain.DecodeTransaction(v)
		if err != nil {
			panic(err)
		}
		a.line(depth, fmt.Sprintf("transaction %d: %d bytes", i, used), nil)
		d := depth + 1
		a.line(d, fmt.Sprintf("version %d", tx.Version), v[:1])
		v = v[1:]
		for _, f := range []struct{ name, val string }{{"sender", tx.Sender}, {"recipient", tx.Recipient}} {
			a.line(d, fmt.Sprintf("%s: length %d, %q", f.name, len(f.val), f.val), v[:1+len(f.val)])
			v = v[1+len(f.val):]
		}
		for _, f := range []struct {
			name string
			val  uint64
		}{{"amount", tx.Amount}, {"fee", tx.Fee}, {"nonce", tx.Nonce}} {
			a.line(d, fmt.Sprintf("%s %d", f.name, f.val), v[:8])
			v = v[8:]
		}
		for _, f := range []struct {
			name string
			val  []byte
		}{{"public key", tx.PublicKey}, {"signature", tx.Signature}} {
			a.line(d, fmt.Sprintf("%s length %d", f.name, len(f.val)), v[:1])
			if len(f.val) > 0 {
				a.line(d+1, f.name, v[1:1+len(f.val)])
			}
			v = v[1+len(f.val):]
		}
	}
}
