// Seeded random numbers for the samplers: xoshiro256** seeded through SplitMix64. Every parameter
// of every trial gets its own stream, derived from the study's seed, the trial's number and the
// parameter's name, so a trial's draws do not depend on threads or on what ran in this process.

import Foundation

struct RandomSource {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    init(seed: UInt64) {
        var x = seed
        func next() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (next(), next(), next(), next())
    }

    /// The stream of one parameter of one trial.
    init(seed: UInt64, trial: Int, parameter: String) {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325                 // FNV-1a of the name
        for b in parameter.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        self.init(seed: seed ^ (UInt64(truncatingIfNeeded: trial) &* 0x9E37_79B9_7F4A_7C15) ^ (h &* 0xD1B5_4A32_D192_ED03))
    }

    mutating func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0; s.3 ^= s.1; s.1 ^= s.2; s.0 ^= s.3
        s.2 ^= t
        s.3 = s.3 << 45 | s.3 >> 19
        return result
    }

    /// Uniform in [0, 1) with 53 random bits.
    mutating func uniform() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// An index drawn with probabilities `p` (summing to 1), as numpy's `choice(p=)`.
    mutating func choice(_ p: [Double]) -> Int {
        let u = uniform()
        var c = 0.0
        for (i, w) in p.enumerated() {
            c += w
            if u < c { return i }
        }
        return p.count - 1
    }
}
