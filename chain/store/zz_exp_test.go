package store_test

import (
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func BenchmarkZZFree(b *testing.B) {
	reopenFixture.once.Do(buildReopenFixture)
	for _, ft := range []bolt.FreelistType{bolt.FreelistArrayType, bolt.FreelistMapType, bolt.FreelistArrayType, bolt.FreelistMapType} {
		start := time.Now()
		for range 300 {
			db, err := bolt.Open(reopenFixture.path, 0o600, &bolt.Options{FreelistType: ft})
			if err != nil {
				b.Fatal(err)
			}
			db.Close()
		}
		b.Logf("%s open+close: %v", ft, time.Since(start)/300)
	}
	start := time.Now()
	for range 300 {
		db, err := bolt.Open(reopenFixture.path, 0o600, &bolt.Options{ReadOnly: true})
		if err != nil {
			b.Fatal(err)
		}
		db.Close()
	}
	b.Logf("readonly open+close: %v", time.Since(start)/300)
}
