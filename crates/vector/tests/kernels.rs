//! SIMD kernels agree with the portable references.

use infino_vector::{
    dot, ip_4bit_1bit, ip_4bit_1bit_many, l2_sq, norm_sq, portable, simd_level, sq4_decode,
    sq4_dot, sq4_encode, sq4_l2_sq, sq8_decode, sq8_dot, sq8_l2_sq,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn close(a: f32, b: f32, scale: f32) -> bool {
    (a - b).abs() <= 1e-4 * scale.max(1.0)
}

#[test]
fn float_kernels_match_portable() {
    println!("simd level: {}", simd_level());
    let mut rng = StdRng::seed_from_u64(5);
    for dim in [1, 3, 7, 8, 9, 15, 16, 17, 31, 128, 384, 1000, 4096] {
        for _ in 0..20 {
            let a: Vec<f32> = (0..dim).map(|_| rng.random_range(-2.0..2.0)).collect();
            let b: Vec<f32> = (0..dim).map(|_| rng.random_range(-2.0..2.0)).collect();
            let scale: f32 = a.iter().zip(&b).map(|(x, y)| (x * y).abs()).sum();
            assert!(
                close(dot(&a, &b), portable::dot(&a, &b), scale),
                "dot dim {dim}"
            );
            let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!(close(dot(&a, &b), naive, scale), "dot vs naive dim {dim}");
            let l2n: f32 = a.iter().zip(&b).map(|(x, y)| (x - y) * (x - y)).sum();
            assert!(
                close(l2_sq(&a, &b), portable::l2_sq(&a, &b), l2n),
                "l2 dim {dim}"
            );
            assert!(close(l2_sq(&a, &b), l2n, l2n), "l2 vs naive dim {dim}");
            let nn: f32 = a.iter().map(|x| x * x).sum();
            assert!(
                close(norm_sq(&a), portable::norm_sq(&a), nn),
                "norm dim {dim}"
            );
        }
    }
}

#[test]
fn kernels_use_common_prefix() {
    assert_eq!(dot(&[1.0, 2.0, 3.0], &[1.0, 1.0]), 3.0);
    assert_eq!(l2_sq(&[], &[1.0]), 0.0);
}

#[test]
fn binary_kernel_matches_naive() {
    let mut rng = StdRng::seed_from_u64(6);
    for words in [1, 2, 3, 6, 8, 64] {
        let planes: Vec<u64> = (0..4 * words).map(|_| rng.random()).collect();
        let code: Vec<u64> = (0..words).map(|_| rng.random()).collect();
        let mut ip = 0u32;
        let mut pop = 0u32;
        for i in 0..words * 64 {
            let bit = |w: u64| ((w >> (i % 64)) & 1) as u32;
            let c = bit(code[i / 64]);
            pop += c;
            let u: u32 = (0..4).map(|j| bit(planes[j * words + i / 64]) << j).sum();
            ip += u * c;
        }
        assert_eq!(ip_4bit_1bit(&planes, &code), (pop, ip));
        assert_eq!(portable::ip_4bit_1bit(&planes, &code), (pop, ip));
    }
}

#[test]
fn batch_binary_kernel_matches_single() {
    let mut rng = StdRng::seed_from_u64(7);
    // 8, 16 and 64 words take the AVX-512 path where the CPU has it.
    for words in [1, 2, 6, 8, 16, 64] {
        let planes: Vec<u64> = (0..4 * words).map(|_| rng.random()).collect();
        let codes: Vec<Vec<u64>> = (0..9)
            .map(|_| (0..words).map(|_| rng.random()).collect())
            .collect();
        let mut bytes: Vec<u8> = codes
            .iter()
            .flatten()
            .flat_map(|w| w.to_le_bytes())
            .collect();
        bytes.extend_from_slice(&[0xAB; 5]); // a trailing partial code is ignored
        let mut got = Vec::new();
        ip_4bit_1bit_many(&planes, &bytes, &mut got);
        let want: Vec<(u32, u32)> = codes.iter().map(|c| ip_4bit_1bit(&planes, c)).collect();
        assert_eq!(got, want);
        let mut portable_got = Vec::new();
        portable::ip_4bit_1bit_many(&planes, &bytes, &mut portable_got);
        assert_eq!(portable_got, want);
    }
}

#[test]
fn batch_binary_kernel_at_full_counts() {
    // Every bit set: the largest counts (4096 set bits, inner product
    // 15 · 4096) must not carry between the packed halves of a lane.
    for words in [8, 64] {
        let planes = vec![u64::MAX; 4 * words];
        let bytes = vec![0xFF; 3 * words * 8];
        let mut got = Vec::new();
        ip_4bit_1bit_many(&planes, &bytes, &mut got);
        let bits = u32::try_from(words * 64).expect("small");
        assert_eq!(got, vec![(bits, 15 * bits); 3], "words {words}");
    }
}

#[test]
fn sq8_kernels_match_decode_then_score() {
    let mut rng = StdRng::seed_from_u64(8);
    for dim in [1, 3, 7, 8, 9, 16, 17, 31, 128, 384, 1000, 4096] {
        for _ in 0..20 {
            let q: Vec<f32> = (0..dim).map(|_| rng.random_range(-2.0..2.0)).collect();
            let codes: Vec<u8> = (0..dim).map(|_| rng.random()).collect();
            let (min, scale) = (rng.random_range(-1.0..0.0), rng.random_range(0.0..0.01));
            let mut x = vec![0.0; dim];
            sq8_decode(&codes, min, scale, &mut x);
            let dn: f32 = q.iter().zip(&x).map(|(a, b)| (a * b).abs()).sum();
            let want = dot(&q, &x);
            assert!(
                close(sq8_dot(&q, &codes, min, scale), want, dn),
                "dot {dim}"
            );
            assert!(
                close(portable::sq8_dot(&q, &codes, min, scale), want, dn),
                "portable dot {dim}"
            );
            let want = l2_sq(&q, &x);
            assert!(
                close(sq8_l2_sq(&q, &codes, min, scale), want, want),
                "l2 {dim}"
            );
            assert!(
                close(portable::sq8_l2_sq(&q, &codes, min, scale), want, want),
                "portable l2 {dim}"
            );
        }
    }
    // Only the common prefix is used.
    assert_eq!(sq8_dot(&[1.0, 2.0], &[1], 0.0, 1.0), 1.0);
    assert_eq!(sq8_l2_sq(&[], &[3], 0.0, 1.0), 0.0);
}

#[test]
fn sq4_kernels_match_decode_then_score() {
    let mut rng = StdRng::seed_from_u64(9);
    for dim in [1usize, 2, 3, 15, 16, 17, 31, 32, 33, 128, 384, 512, 4096] {
        for _ in 0..20 {
            let q: Vec<f32> = (0..dim).map(|_| rng.random_range(-2.0..2.0)).collect();
            let x: Vec<f32> = (0..dim).map(|_| rng.random_range(-1.0..1.0)).collect();
            let mut codes = vec![0; dim.div_ceil(2)];
            let (min, scale) = sq4_encode(&x, &mut codes);
            let mut y = vec![0.0; dim];
            sq4_decode(&codes, min, scale, &mut y);
            let dn: f32 = q.iter().zip(&y).map(|(a, b)| (a * b).abs()).sum();
            let want = dot(&q, &y);
            assert!(
                close(sq4_dot(&q, &codes, min, scale), want, dn),
                "dot {dim}"
            );
            assert!(
                close(portable::sq4_dot(&q, &codes, min, scale), want, dn),
                "portable dot {dim}"
            );
            let want = l2_sq(&q, &y);
            assert!(
                close(sq4_l2_sq(&q, &codes, min, scale), want, want),
                "l2 {dim}"
            );
            assert!(
                close(portable::sq4_l2_sq(&q, &codes, min, scale), want, want),
                "portable l2 {dim}"
            );
        }
    }
    // Only the components the codes cover are used.
    assert_eq!(sq4_dot(&[1.0, 2.0, 3.0], &[0x21], 0.0, 1.0), 5.0);
    assert_eq!(portable::sq4_dot(&[1.0, 2.0, 3.0], &[0x21], 0.0, 1.0), 5.0);
}
