package store

import (
	"bytes"
	"errors"
	"testing"

	"github.com/gossipchain/gossipchain/chain"
)

// TestBlockBytes: BlockBytes returns the block's encoding exactly as
// stored, refuses a record whose header is not the block asked for, and
// leaves damage past the header to the receiver's checks.
func TestBlockBytes(t *testing.T) {
	tests := []struct {
		name string
		// damage rewrites the stored encoding enc; nil leaves it intact.
		damage  func(enc []byte) []byte
		wantErr error
		// wantSame: the bytes returned are the stored ones as they are.
		wantSame bool
	}{
		{name: "intact", wantSame: true},
		{name: "header byte flipped", damage: func(enc []byte) []byte { enc[chain.HeaderSize-1] ^= 1; return enc }, wantErr: ErrCorrupt},
		{name: "header only", damage: func(enc []byte) []byte { return enc[:chain.HeaderSize] }, wantErr: ErrCorrupt},
		{name: "empty", damage: func([]byte) []byte { return nil }, wantErr: ErrCorrupt},
		// Not decoded here: the client's merkle root check refuses it
		// (p2p's TestSyncCorruptStoredBody).
		{name: "body byte flipped", damage: func(enc []byte) []byte { enc[len(enc)-1] ^= 1; return enc }, wantSame: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, h, height, enc, _ := newFileWithBlock(t)
			want := enc
			if tt.damage != nil {
				want = tt.damage(bytes.Clone(enc))
				tamper(t, path, put(bucketBlocks, chunkKey(nil, height, h, 0), appendBlockRecord(nil, want, nil)))
			}
			s, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			got, err := s.BlockBytes(h)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("BlockBytes: %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantSame && !bytes.Equal(got, want) {
				t.Fatalf("BlockBytes returned %x, stored %x", got, want)
			}
			if _, err := s.BlockBytes(chain.Hash{1}); !errors.Is(err, chain.ErrNotFound) {
				t.Fatalf("BlockBytes of an unknown block: %v, want ErrNotFound", err)
			}
		})
	}
}
