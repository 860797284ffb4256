//! 8-bit scalar quantization with a per-vector minimum and scale.
//!
//! `x̂ᵢ = min + scale · uᵢ`, `uᵢ ∈ 0..=255`. Every component is reproduced
//! within `scale / 2` (half a step); a constant vector is exact.

/// Encodes `x` into `out` (same length) and returns `(min, scale)`.
///
/// `x` must be finite. `O(len)`.
pub fn sq8_encode(x: &[f32], out: &mut [u8]) -> (f32, f32) {
    let (lo, hi) = x
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    if x.is_empty() || lo >= hi {
        out.fill(0);
        return (if x.is_empty() { 0.0 } else { lo }, 0.0);
    }
    let scale = (hi - lo) / 255.0;
    for (o, &v) in out.iter_mut().zip(x) {
        let q = ((v - lo) / scale).round().clamp(0.0, 255.0);
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "clamped to 0..=255"
        )]
        {
            *o = q as u8;
        }
    }
    (lo, scale)
}

/// Decodes `codes` into `out` (same length). `O(len)`.
pub fn sq8_decode(codes: &[u8], min: f32, scale: f32, out: &mut [f32]) {
    for (o, &c) in out.iter_mut().zip(codes) {
        *o = min + scale * f32::from(c);
    }
}
