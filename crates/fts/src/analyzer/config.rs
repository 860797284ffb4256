//! Analyzer configuration and its stable binary encoding.
//!
//! The encoding is recorded in every region so queries analyze exactly as
//! the documents were analyzed. Layout (little-endian):
//!
//! | bytes | field |
//! | --- | --- |
//! | 1 | encoding version, `1` |
//! | 1 | flags: bit 0 lowercase, bit 1 ASCII folding; other bits zero |
//! | 1 | stemmer: `0` none, else [`Language::code`] |
//! | 1 | stop words: `0` none, `1` English, `2` custom |
//! | 4 | `max_token_len` (u32, ≥ 1) |
//! | 4 | custom stop-word count `n` (u32; 0 unless custom) |
//! | n × (4 + len) | each custom stop word: u32 byte length, UTF-8 bytes |

use crate::error::{FtsError, Result, Section};

/// A Snowball stemming language; every algorithm `rust-stemmers` offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Language {
    /// Arabic.
    Arabic,
    /// Danish.
    Danish,
    /// Dutch.
    Dutch,
    /// English (Porter2).
    English,
    /// Finnish.
    Finnish,
    /// French.
    French,
    /// German.
    German,
    /// Greek.
    Greek,
    /// Hungarian.
    Hungarian,
    /// Italian.
    Italian,
    /// Norwegian.
    Norwegian,
    /// Portuguese.
    Portuguese,
    /// Romanian.
    Romanian,
    /// Russian.
    Russian,
    /// Spanish.
    Spanish,
    /// Swedish.
    Swedish,
    /// Tamil.
    Tamil,
    /// Turkish.
    Turkish,
}

impl Language {
    /// Every language, in code order.
    pub const ALL: [Language; 18] = [
        Language::Arabic,
        Language::Danish,
        Language::Dutch,
        Language::English,
        Language::Finnish,
        Language::French,
        Language::German,
        Language::Greek,
        Language::Hungarian,
        Language::Italian,
        Language::Norwegian,
        Language::Portuguese,
        Language::Romanian,
        Language::Russian,
        Language::Spanish,
        Language::Swedish,
        Language::Tamil,
        Language::Turkish,
    ];

    /// The lowercase English name, e.g. `"english"`; stable.
    pub fn name(self) -> &'static str {
        match self {
            Language::Arabic => "arabic",
            Language::Danish => "danish",
            Language::Dutch => "dutch",
            Language::English => "english",
            Language::Finnish => "finnish",
            Language::French => "french",
            Language::German => "german",
            Language::Greek => "greek",
            Language::Hungarian => "hungarian",
            Language::Italian => "italian",
            Language::Norwegian => "norwegian",
            Language::Portuguese => "portuguese",
            Language::Romanian => "romanian",
            Language::Russian => "russian",
            Language::Spanish => "spanish",
            Language::Swedish => "swedish",
            Language::Tamil => "tamil",
            Language::Turkish => "turkish",
        }
    }

    /// Looks a language up by [`name`](Self::name), ignoring ASCII case.
    pub fn from_name(name: &str) -> Option<Language> {
        Language::ALL
            .into_iter()
            .find(|l| l.name().eq_ignore_ascii_case(name))
    }

    /// The stable on-disk code, `1..=18`.
    pub fn code(self) -> u8 {
        let index = Language::ALL
            .iter()
            .position(|l| *l == self)
            .expect("invariant: ALL lists every language");
        u8::try_from(index + 1).expect("invariant: fewer than 255 languages")
    }

    fn from_code(code: u8) -> Option<Language> {
        Language::ALL
            .get(usize::from(code).checked_sub(1)?)
            .copied()
    }

    pub(crate) fn algorithm(self) -> rust_stemmers::Algorithm {
        use rust_stemmers::Algorithm as A;
        match self {
            Language::Arabic => A::Arabic,
            Language::Danish => A::Danish,
            Language::Dutch => A::Dutch,
            Language::English => A::English,
            Language::Finnish => A::Finnish,
            Language::French => A::French,
            Language::German => A::German,
            Language::Greek => A::Greek,
            Language::Hungarian => A::Hungarian,
            Language::Italian => A::Italian,
            Language::Norwegian => A::Norwegian,
            Language::Portuguese => A::Portuguese,
            Language::Romanian => A::Romanian,
            Language::Russian => A::Russian,
            Language::Spanish => A::Spanish,
            Language::Swedish => A::Swedish,
            Language::Tamil => A::Tamil,
            Language::Turkish => A::Turkish,
        }
    }
}

/// Which words the analyzer removes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum StopWords {
    /// Keep every word.
    #[default]
    None,
    /// The built-in English list (33 common function words).
    English,
    /// A caller-supplied list. Words are compared after lowercasing and
    /// folding (as configured) and before stemming.
    Custom(Vec<String>),
}

/// How text becomes terms. Recorded in the region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalyzerConfig {
    /// Lowercase every word (full Unicode lowercasing).
    pub lowercase: bool,
    /// Fold Latin-1 and Latin Extended-A letters to ASCII and drop combining
    /// marks.
    pub ascii_folding: bool,
    /// Snowball stemming, if any.
    pub stemmer: Option<Language>,
    /// Stop words to remove.
    pub stop_words: StopWords,
    /// Terms longer than this many bytes (after normalization) are dropped.
    pub max_token_len: usize,
}

impl Default for AnalyzerConfig {
    /// Lowercase, ASCII folding, no stemming, no stop words, 40-byte terms.
    fn default() -> Self {
        AnalyzerConfig {
            lowercase: true,
            ascii_folding: true,
            stemmer: None,
            stop_words: StopWords::None,
            max_token_len: DEFAULT_MAX_TOKEN_LEN,
        }
    }
}

/// Default [`AnalyzerConfig::max_token_len`].
pub const DEFAULT_MAX_TOKEN_LEN: usize = 40;

/// Largest accepted [`AnalyzerConfig::max_token_len`].
pub const MAX_TOKEN_LEN_LIMIT: usize = 1 << 16;

const ENCODING_VERSION: u8 = 1;

impl AnalyzerConfig {
    /// Checks the configuration.
    ///
    /// # Errors
    /// [`FtsError::InvalidConfig`] when `max_token_len` is 0 or above
    /// [`MAX_TOKEN_LEN_LIMIT`].
    pub fn validate(&self) -> Result<()> {
        if self.max_token_len == 0 || self.max_token_len > MAX_TOKEN_LEN_LIMIT {
            return Err(FtsError::InvalidConfig {
                reason: "max_token_len must be in 1..=65536",
            });
        }
        Ok(())
    }

    /// Encodes the configuration in the stable layout documented on this
    /// module.
    ///
    /// # Errors
    /// [`FtsError::InvalidConfig`] if the configuration is invalid or a custom
    /// stop list does not fit u32 lengths.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        self.validate()?;
        let mut out = vec![ENCODING_VERSION];
        out.push(u8::from(self.lowercase) | (u8::from(self.ascii_folding) << 1));
        out.push(self.stemmer.map_or(0, Language::code));
        let words: &[String] = match &self.stop_words {
            StopWords::None => {
                out.push(0);
                &[]
            }
            StopWords::English => {
                out.push(1);
                &[]
            }
            StopWords::Custom(words) => {
                out.push(2);
                words
            }
        };
        let too_large = || FtsError::InvalidConfig {
            reason: "custom stop-word list too large",
        };
        let max_len = u32::try_from(self.max_token_len).map_err(|_| too_large())?;
        out.extend_from_slice(&max_len.to_le_bytes());
        let count = u32::try_from(words.len()).map_err(|_| too_large())?;
        out.extend_from_slice(&count.to_le_bytes());
        for word in words {
            let len = u32::try_from(word.len()).map_err(|_| too_large())?;
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(word.as_bytes());
        }
        Ok(out)
    }

    /// Decodes bytes written by [`to_bytes`](Self::to_bytes).
    ///
    /// # Errors
    /// [`FtsError::Corrupt`] (section [`Section::Analyzer`]) on any malformed
    /// input: unknown version, flags or codes, bad lengths, invalid UTF-8 or
    /// trailing bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<AnalyzerConfig> {
        let corrupt =
            |offset: usize, reason| FtsError::corrupt(Section::Analyzer, offset as u64, reason);
        let mut r = Cursor { bytes, pos: 0 };
        let version = r.u8().ok_or_else(|| corrupt(0, "truncated"))?;
        if version != ENCODING_VERSION {
            return Err(corrupt(0, "unknown analyzer encoding version"));
        }
        let flags = r.u8().ok_or_else(|| corrupt(1, "truncated"))?;
        if flags & !0b11 != 0 {
            return Err(corrupt(1, "unknown analyzer flags"));
        }
        let stem_code = r.u8().ok_or_else(|| corrupt(2, "truncated"))?;
        let stemmer = match stem_code {
            0 => None,
            code => Some(Language::from_code(code).ok_or_else(|| corrupt(2, "unknown stemmer"))?),
        };
        let stop_kind = r.u8().ok_or_else(|| corrupt(3, "truncated"))?;
        let max_token_len = r.u32().ok_or_else(|| corrupt(4, "truncated"))? as usize;
        let count = r.u32().ok_or_else(|| corrupt(8, "truncated"))?;
        let stop_words = match (stop_kind, count) {
            (0, 0) => StopWords::None,
            (1, 0) => StopWords::English,
            (2, count) => {
                let mut words = Vec::new();
                for _ in 0..count {
                    let at = r.pos;
                    let len = r.u32().ok_or_else(|| corrupt(at, "truncated"))? as usize;
                    let raw = r
                        .take(len)
                        .ok_or_else(|| corrupt(at, "truncated stop word"))?;
                    let word = std::str::from_utf8(raw)
                        .map_err(|_| corrupt(at, "stop word is not UTF-8"))?;
                    words.push(word.to_owned());
                }
                StopWords::Custom(words)
            }
            _ => return Err(corrupt(3, "unknown stop-word kind")),
        };
        if r.pos != bytes.len() {
            return Err(corrupt(r.pos, "trailing bytes"));
        }
        let config = AnalyzerConfig {
            lowercase: flags & 1 != 0,
            ascii_folding: flags & 2 != 0,
            stemmer,
            stop_words,
            max_token_len,
        };
        config
            .validate()
            .map_err(|_| corrupt(4, "max_token_len out of range"))?;
        Ok(config)
    }
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let out = self.bytes.get(self.pos..end)?;
        self.pos = end;
        Some(out)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn u32(&mut self) -> Option<u32> {
        let raw = self.take(4)?;
        Some(u32::from_le_bytes(raw.try_into().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let configs = [
            AnalyzerConfig::default(),
            AnalyzerConfig {
                lowercase: false,
                ascii_folding: false,
                stemmer: Some(Language::Turkish),
                stop_words: StopWords::English,
                max_token_len: 7,
            },
            AnalyzerConfig {
                stop_words: StopWords::Custom(vec!["é".into(), String::new(), "x y".into()]),
                stemmer: Some(Language::English),
                ..AnalyzerConfig::default()
            },
        ];
        for config in configs {
            let bytes = config.to_bytes().expect("valid");
            assert_eq!(AnalyzerConfig::from_bytes(&bytes).expect("decodes"), config);
            for cut in 0..bytes.len() {
                assert!(AnalyzerConfig::from_bytes(&bytes[..cut]).is_err());
            }
        }
    }

    #[test]
    fn languages_have_stable_codes_and_names() {
        for (i, lang) in Language::ALL.into_iter().enumerate() {
            assert_eq!(usize::from(lang.code()), i + 1);
            assert_eq!(Language::from_name(lang.name()), Some(lang));
            assert_eq!(Language::from_code(lang.code()), Some(lang));
        }
        assert_eq!(Language::from_name("ENGLISH"), Some(Language::English));
        assert_eq!(Language::from_name("klingon"), None);
    }

    #[test]
    fn rejects_bad_lengths() {
        let config = AnalyzerConfig {
            max_token_len: 0,
            ..AnalyzerConfig::default()
        };
        assert!(config.to_bytes().is_err());
    }
}
