//! Deterministic synthetic text: Zipf-distributed words, as in natural language.
//!
//! Word ranks follow Zipf's law with exponent `s` (≈1 for English), so a few
//! terms are in most documents and most terms are rare — the shape that makes
//! posting-list skipping matter. Words are pronounceable letter strings made
//! from the rank, so the same seed always yields the same corpus.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Parameters of a synthetic corpus.
#[derive(Debug, Clone)]
pub struct ZipfCorpus {
    /// Distinct words.
    pub vocabulary: usize,
    /// Zipf exponent.
    pub exponent: f64,
    /// Mean words per document (lengths vary uniformly in ±50 %).
    pub mean_len: usize,
    /// RNG seed.
    pub seed: u64,
}

impl Default for ZipfCorpus {
    fn default() -> Self {
        Self {
            vocabulary: 50_000,
            exponent: 1.0,
            mean_len: 100,
            seed: 42,
        }
    }
}

impl ZipfCorpus {
    /// Generate `n` documents.
    pub fn generate(&self, n: usize) -> Vec<String> {
        let sampler = ZipfSampler::new(self.vocabulary, self.exponent);
        let mut rng = StdRng::seed_from_u64(self.seed);
        let half = (self.mean_len / 2).max(1);
        (0..n)
            .map(|_| {
                let len = rng
                    .random_range(self.mean_len - half.min(self.mean_len)..=self.mean_len + half);
                let mut doc = String::with_capacity(len * 7);
                for i in 0..len {
                    if i > 0 {
                        doc.push(' ');
                    }
                    doc.push_str(&word(sampler.sample(&mut rng)));
                }
                doc
            })
            .collect()
    }
}

/// Samples ranks `0..n` with probability proportional to `1 / (rank+1)^s`.
#[derive(Debug, Clone)]
pub struct ZipfSampler {
    cdf: Vec<f64>,
}

impl ZipfSampler {
    /// A sampler over `n` ranks (at least one).
    pub fn new(n: usize, s: f64) -> Self {
        let mut cdf = Vec::with_capacity(n.max(1));
        let mut total = 0.0;
        for rank in 0..n.max(1) {
            total += 1.0 / ((rank + 1) as f64).powf(s);
            cdf.push(total);
        }
        for v in &mut cdf {
            *v /= total;
        }
        Self { cdf }
    }

    /// One rank.
    pub fn sample(&self, rng: &mut impl Rng) -> usize {
        let u: f64 = rng.random();
        self.cdf.partition_point(|&c| c < u).min(self.cdf.len() - 1)
    }
}

/// The word for a rank: consonant-vowel syllables, unique per rank.
pub fn word(rank: usize) -> String {
    const CONSONANTS: &[u8] = b"bcdfghjklmnprstvz";
    const VOWELS: &[u8] = b"aeiou";
    let mut n = rank;
    let mut out = String::new();
    loop {
        out.push(char::from(CONSONANTS[n % CONSONANTS.len()]));
        n /= CONSONANTS.len();
        out.push(char::from(VOWELS[n % VOWELS.len()]));
        n /= VOWELS.len();
        if n == 0 {
            break;
        }
        n -= 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_unique_per_rank() {
        let words: std::collections::HashSet<String> = (0..100_000).map(word).collect();
        assert_eq!(words.len(), 100_000);
    }

    #[test]
    fn generation_is_deterministic_and_skewed() {
        let corpus = ZipfCorpus {
            vocabulary: 1000,
            mean_len: 50,
            ..ZipfCorpus::default()
        };
        let a = corpus.generate(200);
        assert_eq!(a, corpus.generate(200));
        let top = word(0);
        let with_top = a.iter().filter(|d| d.split(' ').any(|w| w == top)).count();
        let rare = word(999);
        let with_rare = a.iter().filter(|d| d.split(' ').any(|w| w == rare)).count();
        assert!(
            with_top > 150 && with_rare < 20,
            "top {with_top} rare {with_rare}"
        );
    }
}
