package nexmark

// splitMix is the SplitMix64 generator with the golden-ratio gamma, producing the same sequence as
// java.util.SplittableRandom constructed with the same seed (new SplittableRandom(seed)): nextInt,
// nextInt(bound), nextLong and nextDouble follow the algorithms that class documents. The benchmark's Java
// generator draws every random choice from one SplittableRandom, so with the same seed and the same call
// order this generator reproduces its events.
type splitMix struct {
	seed uint64
}

const goldenGamma = 0x9e3779b97f4a7c15

func newSplitMix(seed int64) splitMix { return splitMix{seed: uint64(seed)} }

func (r *splitMix) nextSeed() uint64 {
	r.seed += goldenGamma
	return r.seed
}

func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func mix32(z uint64) int32 {
	z = (z ^ (z >> 33)) * 0x62a9d9ed799705f5
	return int32(((z ^ (z >> 28)) * 0xcb24d0a5c88c35b3) >> 32)
}

// nextInt32 is SplittableRandom.nextInt(): any int.
func (r *splitMix) nextInt32() int32 { return mix32(r.nextSeed()) }

// nextLong is SplittableRandom.nextLong().
func (r *splitMix) nextLong() int64 { return int64(mix64(r.nextSeed())) }

// nextInt is SplittableRandom.nextInt(bound): uniform in [0, bound), bound > 0, rejecting the
// over-represented candidates exactly as Java does (so that the number of draws matches too).
func (r *splitMix) nextInt(bound int32) int32 {
	v := mix32(r.nextSeed())
	m := bound - 1
	if bound&m == 0 {
		return v & m
	}
	u := int32(uint32(v) >> 1)
	for {
		v = u % bound
		if u+m-v >= 0 { // int32 overflow makes this negative for rejected candidates, as in Java
			return v
		}
		u = int32(uint32(mix32(r.nextSeed())) >> 1)
	}
}

// nextDouble is SplittableRandom.nextDouble(): uniform in [0, 1) with 53 random bits.
func (r *splitMix) nextDouble() float64 {
	return float64(mix64(r.nextSeed())>>11) * (1.0 / (1 << 53))
}

// nextLongBounded is the benchmark's LongGenerator.nextLong(random, n): nextInt(n) when n fits an int,
// else |nextLong() % n| (skewed, as upstream notes).
func (r *splitMix) nextLongBounded(n int64) int64 {
	if n < 1<<31-1 {
		return int64(r.nextInt(int32(n)))
	}
	v := r.nextLong() % n
	if v < 0 {
		v = -v
	}
	return v
}
