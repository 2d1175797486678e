package chain

import "sync"

// headerCache keeps runs of main-chain headers in memory for
// HeadersAfter, so that a flood of GetHeaders asking for the same
// stretch (from genesis, say) costs a locator lookup and a copy instead
// of 2,000 index reads each (docs/benchmarks.md). A run covers the
// heights [k·headerChunkLen, (k+1)·headerChunkLen); only complete runs
// are kept. A run stays right while the main chain holds its last block:
// the main chain is one path, so its ancestors are the same too. That is
// checked, one index read, on every use. At most headerCacheChunks runs
// are kept, the oldest dropped first.
type headerCache struct {
	mu     sync.Mutex
	chunks map[uint64]*headerChunk
	order  []uint64 // insertion order, for eviction
}

// headerChunk is one run; never changed once built.
type headerChunk struct {
	hashes  []Hash
	headers []Header
}

func newHeaderCache() *headerCache { return &headerCache{chunks: make(map[uint64]*headerChunk)} }

// chunk returns run k, from the cache if the main chain of v still holds
// its last block, else read from v (and kept); nil if the main chain does
// not reach the run's end.
func (hc *headerCache) chunk(v StoreView, k uint64) (*headerChunk, error) {
	first := k * headerChunkLen
	last := first + headerChunkLen - 1
	hc.mu.Lock()
	ch := hc.chunks[k]
	hc.mu.Unlock()
	if ch != nil {
		mh, err := v.MainHash(last)
		if err == nil && mh == ch.hashes[headerChunkLen-1] {
			return ch, nil
		}
	}
	hashes, err := v.MainHashes(first, headerChunkLen)
	if err != nil || len(hashes) < headerChunkLen {
		return nil, err
	}
	ch = &headerChunk{hashes: hashes, headers: make([]Header, len(hashes))}
	for i, h := range hashes {
		m, err := v.Meta(h)
		if err != nil {
			return nil, err
		}
		ch.headers[i] = m.Header
	}
	hc.mu.Lock()
	defer hc.mu.Unlock()
	if _, ok := hc.chunks[k]; !ok {
		hc.order = append(hc.order, k)
		if len(hc.order) > headerCacheChunks {
			delete(hc.chunks, hc.order[0])
			hc.order = hc.order[1:]
		}
	}
	hc.chunks[k] = ch
	return ch, nil
}
