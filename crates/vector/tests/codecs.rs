//! Property tests for the codecs.

use infino_vector::{pack_signs, sq8_decode, sq8_encode, unpack_signs};
use proptest::prelude::*;

proptest! {
    #[test]
    fn sq8_round_trip_within_half_step(x in prop::collection::vec(-1e4f32..1e4, 1..300)) {
        let mut codes = vec![0u8; x.len()];
        let (min, scale) = sq8_encode(&x, &mut codes);
        let mut back = vec![0f32; x.len()];
        sq8_decode(&codes, min, scale, &mut back);
        let lo = x.iter().copied().fold(f32::INFINITY, f32::min);
        let hi = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        prop_assert_eq!(min, lo);
        prop_assert!(scale >= 0.0);
        let tol = scale * 0.5 + (hi.abs().max(lo.abs())) * 1e-5;
        for (a, b) in x.iter().zip(&back) {
            prop_assert!((a - b).abs() <= tol, "{} vs {} (tol {})", a, b, tol);
        }
    }

    #[test]
    fn sq8_constant_vector_is_exact(v in -1e6f32..1e6, len in 1usize..50) {
        let x = vec![v; len];
        let mut codes = vec![7u8; len];
        let (min, scale) = sq8_encode(&x, &mut codes);
        let mut back = vec![0f32; len];
        sq8_decode(&codes, min, scale, &mut back);
        prop_assert_eq!(back, x);
    }

    #[test]
    fn sign_bits_round_trip(x in prop::collection::vec(prop_oneof![Just(-1.0f32), Just(1.0f32)], 1..700)) {
        let mut code = vec![0u64; x.len().div_ceil(64)];
        pack_signs(&x, &mut code);
        let mut back = vec![0f32; x.len()];
        unpack_signs(&code, &mut back);
        prop_assert_eq!(&back, &x);
        // Bits past the length stay clear.
        let set: u32 = code.iter().map(|w| w.count_ones()).sum();
        prop_assert_eq!(set as usize, x.iter().filter(|v| **v > 0.0).count());
    }
}
