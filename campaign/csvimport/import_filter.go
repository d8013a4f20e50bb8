package csvimport

import "math"

// phoneFilter tells a phone surely not seen before from one that may have
// been: a split-block Bloom filter (the layout of Apache Parquet's), whose
// memory is fixed when it is made, whatever the number of phones added.
// Each phone sets one bit in each of the eight 32-bit words of one 32-byte
// block, so a lookup touches one cache line. With 32 MiB, 10M phones are
// about 27 bits each and a new phone is taken for a possible repeat about
// once in 10,000; past ~50M phones that grows fast (one in seven at 50M,
// two in three at 100M), which costs time (those rows take the slower,
// exact way) and never a wrong answer: a filter has no false negatives. Not safe for concurrent use.
type phoneFilter struct {
	blocks []filterBlock
	free   func()
}

type filterBlock [8]uint32

// filterSalts spread a hash's low 32 bits over the eight words of a block
// (Parquet's split-block Bloom filter constants).
var filterSalts = filterBlock{0x47b6137b, 0x44974d91, 0x8824ad5b, 0xa2b7289d,
	0x705495c7, 0x2df1424b, 0x9efc4947, 0x5c6bfb31}

// newPhoneFilter returns a filter of about size bytes: at least one block,
// at most 64 GiB (the block index is 32 bits). Release it after use.
func newPhoneFilter(size int) *phoneFilter {
	f := &phoneFilter{}
	f.blocks, f.free = allocBlocks(min(max(1, size/32), math.MaxInt32))
	return f
}

// release gives the filter's memory back; the filter is unusable after.
func (f *phoneFilter) release() {
	if f != nil && f.free != nil {
		f.free()
		f.blocks, f.free = nil, nil
	}
}

// add inserts k and reports whether it may have been added before: false
// means surely not. Zero, which no E.164 number is, is always "may have".
func (f *phoneFilter) add(k uint64) (maybeSeen bool) {
	if k == 0 {
		return true
	}
	b, lo := f.locate(k)
	maybeSeen = true
	for w := range b {
		bit := uint32(1) << ((lo * filterSalts[w]) >> 27)
		if b[w]&bit == 0 {
			maybeSeen = false
			b[w] |= bit
		}
	}
	return maybeSeen
}

// locate returns k's block and the hash that picks its bits there.
func (f *phoneFilter) locate(k uint64) (*filterBlock, uint32) {
	// Phone keys are dense runs of integers: mix them (murmur3's 64-bit
	// finaliser) so every bit of the hash depends on every bit of the key.
	h := k
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	// The high half picks the block (multiply-shift: no modulo), the low
	// half the bit in each word.
	return &f.blocks[(h>>32)*uint64(len(f.blocks))>>32], uint32(h)
}
