package twiliosim

import (
	crand "crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"sync"
	"time"
)

// source is the one seeded random source behind every draw, so a run can be
// replayed. It is safe for concurrent use.
type source struct {
	mu  sync.Mutex
	rng *rand.Rand
}

func newSource(seed int64) *source {
	return &source{rng: rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x9e3779b97f4a7c15))}
}

// float returns a uniform draw in [0, 1).
func (s *source) float() float64 {
	s.mu.Lock()
	f := s.rng.Float64()
	s.mu.Unlock()
	return f
}

// intN returns a uniform draw in [0, n).
func (s *source) intN(n int) int {
	s.mu.Lock()
	v := s.rng.IntN(n)
	s.mu.Unlock()
	return v
}

// duration returns a uniform draw in [0, d).
func (s *source) duration(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	s.mu.Lock()
	v := time.Duration(s.rng.Int64N(int64(d)))
	s.mu.Unlock()
	return v
}

// sidMaker makes SIDs: a prefix and 32 lowercase hex digits that look random
// but are a bijection of a counter, so they never collide within a server
// and cost no lock beyond the caller's. Each server also mixes in a random
// salt (sidSalt): Twilio's sids are unique across accounts and time, and a
// database that outlives one simulator (two demo runs, say) must never see
// the same sid twice, or a status callback could find the wrong recipient.
// So the sids do not replay with the seed; everything else does.
type sidMaker struct {
	k1, k2 uint64
}

func newSIDMaker(seed int64, salt uint64) sidMaker {
	return sidMaker{k1: mix64(uint64(seed) ^ salt), k2: mix64(uint64(seed) ^ salt ^ 0xda942042e4dd58b5)}
}

const hexDigits = "0123456789abcdef"

// make returns prefix + 32 hex digits for the n-th SID.
func (m sidMaker) make(prefix string, n uint64) string {
	var b [34]byte
	copy(b[:], prefix)
	hi, lo := mix64(n^m.k1), mix64(n^m.k2)
	for i := 0; i < 16; i++ {
		b[2+i] = hexDigits[hi>>(60-4*i)&0xf]
		b[18+i] = hexDigits[lo>>(60-4*i)&0xf]
	}
	return string(b[:])
}

// mix64 is the splitmix64 finalizer: a bijection on uint64 that scatters
// consecutive inputs.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// randomHex returns n random bytes as lowercase hex, from crypto/rand:
// credentials are secrets and must not follow from a seed.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = crand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}

// sidSalt is a per-server random salt for sids (see sidMaker).
func sidSalt() uint64 {
	var b [8]byte
	_, _ = crand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:])
}
