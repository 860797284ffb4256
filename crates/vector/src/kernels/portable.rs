//! Portable reference kernels: the fallback on CPUs without the SIMD
//! features, and the oracle the SIMD kernels are tested against.

/// Inner product over the common prefix of `a` and `b`.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    // Eight independent accumulators let the compiler vectorize and keep
    // the summation order close to the SIMD kernels'.
    let mut acc = [0.0f32; 8];
    let n = a.len().min(b.len());
    let (ca, cb) = (a[..n].chunks_exact(8), b[..n].chunks_exact(8));
    let (ta, tb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let tail: f32 = ta.iter().zip(tb).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

/// `(Σ aᵢbᵢ, Σ bᵢ²)` over the common prefix of `a` and `b`, in one pass.
pub fn dot_norm_sq(a: &[f32], b: &[f32]) -> (f32, f32) {
    let (mut ip, mut nn) = ([0.0f32; 8], [0.0f32; 8]);
    let n = a.len().min(b.len());
    let (ca, cb) = (a[..n].chunks_exact(8), b[..n].chunks_exact(8));
    let (ta, tb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            ip[i] += x[i] * y[i];
            nn[i] += y[i] * y[i];
        }
    }
    let tail_ip: f32 = ta.iter().zip(tb).map(|(x, y)| x * y).sum();
    let tail_nn: f32 = tb.iter().map(|y| y * y).sum();
    (
        ip.iter().sum::<f32>() + tail_ip,
        nn.iter().sum::<f32>() + tail_nn,
    )
}

/// Squared Euclidean distance over the common prefix of `a` and `b`.
pub fn l2_sq(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let n = a.len().min(b.len());
    let (ca, cb) = (a[..n].chunks_exact(8), b[..n].chunks_exact(8));
    let (ta, tb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            let d = x[i] - y[i];
            acc[i] += d * d;
        }
    }
    let tail: f32 = ta.iter().zip(tb).map(|(x, y)| (x - y) * (x - y)).sum();
    acc.iter().sum::<f32>() + tail
}

/// `Σ term(qᵢ, min + scale · uᵢ)` over the common prefix of `q` and the
/// SQ8 `codes`, in eight interleaved partial sums (the order the SIMD
/// kernels are compared against).
#[inline(always)]
fn sq8_sum(q: &[f32], codes: &[u8], min: f32, scale: f32, term: impl Fn(f32, f32) -> f32) -> f32 {
    let mut acc = [0.0f32; 8];
    let n = q.len().min(codes.len());
    let (cq, cu) = (q[..n].chunks_exact(8), codes[..n].chunks_exact(8));
    let (tq, tu) = (cq.remainder(), cu.remainder());
    for (x, u) in cq.zip(cu) {
        for i in 0..8 {
            acc[i] += term(x[i], min + scale * f32::from(u[i]));
        }
    }
    let tail: f32 = tq
        .iter()
        .zip(tu)
        .map(|(&x, &u)| term(x, min + scale * f32::from(u)))
        .sum();
    acc.iter().sum::<f32>() + tail
}

/// `Σ qᵢ · (min + scale · uᵢ)`: the inner product with an SQ8-coded
/// vector, decoded on the fly, over the common prefix.
pub fn sq8_dot(q: &[f32], codes: &[u8], min: f32, scale: f32) -> f32 {
    sq8_sum(q, codes, min, scale, |x, v| x * v)
}

/// `Σ (qᵢ − (min + scale · uᵢ))²`: the squared distance to an SQ8-coded
/// vector, decoded on the fly, over the common prefix.
pub fn sq8_l2_sq(q: &[f32], codes: &[u8], min: f32, scale: f32) -> f32 {
    sq8_sum(q, codes, min, scale, |x, v| (x - v) * (x - v))
}

/// SQ4 code `i` of `codes`: the low nibble of byte `i/2` for even `i`, the
/// high one for odd (see [`crate::sq4_encode`]).
#[inline(always)]
fn nibble(codes: &[u8], i: usize) -> u8 {
    (codes[i / 2] >> (4 * (i % 2))) & 0x0f
}

/// [`sq8_sum`] over SQ4 codes: the first `min(q.len(), 2·codes.len())`
/// components.
#[inline(always)]
fn sq4_sum(q: &[f32], codes: &[u8], min: f32, scale: f32, term: impl Fn(f32, f32) -> f32) -> f32 {
    let mut acc = [0.0f32; 8];
    let n = q.len().min(2 * codes.len());
    let (cq, cu) = (q[..n].chunks_exact(8), codes.chunks_exact(4));
    let tq = cq.remainder();
    for (x, u) in cq.zip(cu) {
        for i in 0..8 {
            acc[i] += term(x[i], min + scale * f32::from(nibble(u, i)));
        }
    }
    let base = n - tq.len();
    let tail: f32 = tq
        .iter()
        .enumerate()
        .map(|(k, &x)| term(x, min + scale * f32::from(nibble(codes, base + k))))
        .sum();
    acc.iter().sum::<f32>() + tail
}

/// `Σ qᵢ · (min + scale · uᵢ)` with `uᵢ` the SQ4 code `i` of `codes`
/// (low nibble of byte `i/2` for even `i`, high for odd; see
/// [`crate::sq4_encode`]), over the first `min(q.len(), 2·codes.len())`
/// components.
pub fn sq4_dot(q: &[f32], codes: &[u8], min: f32, scale: f32) -> f32 {
    sq4_sum(q, codes, min, scale, |x, v| x * v)
}

/// `Σ (qᵢ − (min + scale · uᵢ))²` over SQ4 codes as in [`sq4_dot`].
pub fn sq4_l2_sq(q: &[f32], codes: &[u8], min: f32, scale: f32) -> f32 {
    sq4_sum(q, codes, min, scale, |x, v| (x - v) * (x - v))
}

/// `(min, max)` of `a`; `(+∞, −∞)` when empty.
pub(crate) fn min_max(a: &[f32]) -> (f32, f32) {
    a.iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        })
}

/// Quantizes `q` to 4-bit levels `min(⌊(qᵢ − lo) · inv + ½⌋, 15)` (every
/// `qᵢ ≥ lo`) stored as four bit planes (`planes[b·w + i/64]` bit `i % 64`
/// is bit `b` of level `i`, `w = ⌈len / 64⌉`; `planes` zeroed, `4w` long);
/// returns the sum of the levels.
pub(crate) fn quantize_4bit(q: &[f32], lo: f32, inv: f32, planes: &mut [u64]) -> u32 {
    let words = q.len().div_ceil(64);
    let mut sum = 0u32;
    for (w, chunk) in q.chunks(64).enumerate() {
        for (k, eight) in chunk.chunks(8).enumerate() {
            let mut bytes = [0u8; 8];
            for (b, &v) in bytes.iter_mut().zip(eight) {
                // Non-negative, so adding ½ and truncating rounds to nearest.
                #[expect(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    reason = "in 0..=15"
                )]
                let level = (((v - lo) * inv + 0.5) as u32).min(15) as u8;
                *b = level;
                sum += u32::from(level);
            }
            let x = u64::from_le_bytes(bytes);
            for (b, plane) in planes.chunks_exact_mut(words).enumerate() {
                plane[w] |= gather_bits(x >> b) << (8 * k);
            }
        }
    }
    sum
}

/// Bit 0 of each byte of `x`, as bit `i` for byte `i` of the result.
///
/// The masked bits sit at positions `8i`; multiplying by a constant with
/// byte `j` equal to `2^(7−j)` moves bit `8i` to `56 + i` for `j = 7 − i`,
/// and every other product lands at a distinct position below 56 or
/// beyond 63, so nothing carries into the top byte.
pub(crate) fn gather_bits(x: u64) -> u64 {
    ((x & 0x0101_0101_0101_0101).wrapping_mul(0x0102_0408_1020_4080)) >> 56
}

/// Squared Euclidean norm.
pub fn norm_sq(a: &[f32]) -> f32 {
    dot(a, a)
}

/// [`ip_4bit_1bit`] over consecutive codes stored little-endian in
/// `codes` (`planes.len() / 4` words each), appending one result per code.
#[inline(always)]
pub fn ip_4bit_1bit_many(planes: &[u64], codes: &[u8], out: &mut Vec<(u32, u32)>) {
    let w = planes.len() / 4;
    for code in codes.chunks_exact(w * 8) {
        let mut pop = 0u32;
        let mut ip = 0u32;
        for (i, word) in code.chunks_exact(8).enumerate() {
            let mut b = [0u8; 8];
            b.copy_from_slice(word);
            let c = u64::from_le_bytes(b);
            pop += c.count_ones();
            ip += (planes[i] & c).count_ones()
                + ((planes[w + i] & c).count_ones() << 1)
                + ((planes[2 * w + i] & c).count_ones() << 2)
                + ((planes[3 * w + i] & c).count_ones() << 3);
        }
        out.push((pop, ip));
    }
}

/// See [`crate::ip_4bit_1bit`]; `planes.len()` must be `4 * code.len()`.
// Always inlined so the POPCNT build in `x86` compiles this loop with the
// hardware instruction.
#[inline(always)]
pub fn ip_4bit_1bit(planes: &[u64], code: &[u64]) -> (u32, u32) {
    let w = code.len();
    let mut pop = 0u32;
    let mut ip = 0u32;
    for (i, &c) in code.iter().enumerate() {
        pop += c.count_ones();
        ip += (planes[i] & c).count_ones()
            + ((planes[w + i] & c).count_ones() << 1)
            + ((planes[2 * w + i] & c).count_ones() << 2)
            + ((planes[3 * w + i] & c).count_ones() << 3);
    }
    (pop, ip)
}
