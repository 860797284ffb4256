//! Property tests for the codecs.

use infino_vector::{
    pack_signs, sq4_decode, sq4_encode, sq4_len, sq8_decode, sq8_encode, unpack_signs,
};
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
    fn sq4_round_trip_within_half_step(x in prop::collection::vec(-1e4f32..1e4, 1..300)) {
        let mut codes = vec![0xffu8; sq4_len(x.len())];
        let (min, scale) = sq4_encode(&x, &mut codes);
        let mut back = vec![0f32; x.len()];
        sq4_decode(&codes, min, scale, &mut back);
        let lo = x.iter().copied().fold(f32::INFINITY, f32::min);
        let hi = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        prop_assert_eq!(min, lo);
        prop_assert!(scale >= 0.0);
        prop_assert!(scale <= (hi - lo) / 15.0 * (1.0 + 1e-6));
        let tol = scale * 0.5 + (hi.abs().max(lo.abs())) * 1e-5;
        for (a, b) in x.iter().zip(&back) {
            prop_assert!((a - b).abs() <= tol, "{} vs {} (tol {})", a, b, tol);
        }
        // An odd length leaves the unused high nibble clear.
        if x.len() % 2 == 1 {
            prop_assert_eq!(codes[codes.len() - 1] >> 4, 0);
        }
    }

    #[test]
    fn sq4_packs_low_nibble_first(x in prop::collection::vec(0u8..16, 1..64)) {
        // Integer inputs spanning 0..=15 quantize to themselves.
        let mut v: Vec<f32> = x.iter().map(|&c| f32::from(c)).collect();
        v.push(0.0);
        v.push(15.0);
        let mut codes = vec![0u8; sq4_len(v.len())];
        let (min, scale) = sq4_encode(&v, &mut codes);
        prop_assert_eq!((min, scale), (0.0, 1.0));
        for (i, &c) in x.iter().enumerate() {
            prop_assert_eq!((codes[i / 2] >> (4 * (i % 2))) & 0x0f, c);
        }
    }

    #[test]
    fn sq4_constant_vector_is_exact(v in -1e6f32..1e6, len in 1usize..50) {
        let x = vec![v; len];
        let mut codes = vec![7u8; sq4_len(len)];
        let (min, scale) = sq4_encode(&x, &mut codes);
        let mut back = vec![0f32; len];
        sq4_decode(&codes, min, scale, &mut back);
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

fn metric_strategy() -> impl Strategy<Value = infino_vector::Metric> {
    use infino_vector::Metric;
    prop_oneof![
        Just(Metric::L2),
        Just(Metric::Cosine),
        Just(Metric::InnerProduct)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Any small index, built with any list count, answers exact searches
    /// like brute force and probe searches with sorted, distinct, known rows.
    #[test]
    fn region_round_trip_matches_brute_force(
        dim in 1usize..20,
        n in 1usize..120,
        lists in prop::option::of(1usize..40),
        metric in metric_strategy(),
        seed in any::<u64>(),
        k in 0usize..15,
    ) {
        use bytes::Bytes;
        use infino_vector::{BuildParams, Rerank, SearchOptions, VectorIndex, VectorIndexBuilder};
        use rand::{Rng, SeedableRng, rngs::StdRng};
        let mut rng = StdRng::seed_from_u64(seed);
        // Shift away from the origin so no cosine vector is zero.
        let data: Vec<f32> = (0..n * dim).map(|_| rng.random_range(-1.0f32..1.0) + 0.01).collect();
        let data: Vec<f32> = data.chunks(dim).flat_map(|v| {
            let mut v = v.to_vec();
            v[0] = v[0].abs() + 0.1;
            v
        }).collect();
        let params = BuildParams { lists, rerank: Rerank::F32, seed, ..BuildParams::default() };
        let mut b = VectorIndexBuilder::new(dim, metric, params).expect("builder");
        let rows: Vec<u32> = (0..n as u32).map(|i| i * 2).collect();
        b.add_batch(&rows, &data).expect("add");
        let index = VectorIndex::open(Bytes::from(b.finish().expect("finish"))).expect("open");
        prop_assert_eq!(index.len(), n);
        let q: Vec<f32> = (0..dim).map(|_| rng.random_range(-1.0f32..1.0)).collect();
        prop_assume!(q.iter().any(|v| *v != 0.0));
        let exact = SearchOptions { exact: true, ..SearchOptions::new(k) };
        let got = index.search(&q, &exact).expect("exact");
        let mut want: Vec<(f32, u32)> = data.chunks(dim).zip(&rows)
            .map(|(x, &r)| (crate::common::distance(metric, &q, x), r)).collect();
        want.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        prop_assert_eq!(got.len(), k.min(n));
        for (g, w) in got.iter().zip(&want) {
            prop_assert!((g.1 - w.0).abs() <= 1e-4 * w.0.abs().max(1.0), "{:?} vs {:?}", g, w);
        }
        let probed = index.search(&q, &SearchOptions::new(k)).expect("probe");
        prop_assert_eq!(probed.len(), k.min(n));
        prop_assert!(probed.windows(2).all(|w| (w[0].1, w[0].0) < (w[1].1, w[1].0)));
        prop_assert!(probed.iter().all(|p| p.0 % 2 == 0 && (p.0 as usize) < 2 * n));
    }

    /// Arbitrary bytes never panic the openers.
    #[test]
    fn arbitrary_bytes_never_panic(mut bytes in prop::collection::vec(any::<u8>(), 0..400), magic in any::<bool>()) {
        if magic && bytes.len() >= 8 {
            bytes[..4].copy_from_slice(b"IVEC");
            bytes[4..8].copy_from_slice(&[1, 0, 0, 0]);
        }
        let _ = infino_vector::IndexHeader::prefix_len(&bytes);
        let _ = infino_vector::IndexHeader::open(&bytes);
        if let Ok(index) = infino_vector::VectorIndex::open(bytes::Bytes::from(bytes)) {
            let q = vec![0.5; index.dim()];
            let _ = index.search(&q, &infino_vector::SearchOptions::new(3));
        }
    }
}
