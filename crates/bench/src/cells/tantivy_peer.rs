//! The tantivy peer: the same documents and queries through tantivy, with a
//! single indexing thread and its default tokenizer (split on
//! non-alphanumerics, lowercase, drop tokens over 40 bytes — close to our
//! default analyzer).

use std::time::{Duration, Instant};

use tantivy::collector::TopDocs;
use tantivy::query::{
    BooleanQuery, FuzzyTermQuery, Occur, PhraseQuery, Query, RegexQuery, TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption, Schema, TEXT};
use tantivy::{Index, IndexReader, TantivyDocument, Term};

use crate::cells::queries::QuerySpec;

pub(crate) struct TantivyPeer {
    _dir: tempfile::TempDir,
    reader: IndexReader,
    body: Field,
    pub(crate) index_bytes: u64,
    pub(crate) build_time: Duration,
}

impl TantivyPeer {
    pub(crate) fn build(texts: &[String]) -> anyhow::Result<Self> {
        let mut schema = Schema::builder();
        let body = schema.add_text_field("body", TEXT);
        let dir = tempfile::tempdir()?;
        let index = Index::create_in_dir(dir.path(), schema.build())?;
        let started = Instant::now();
        let mut writer = index.writer_with_num_threads::<TantivyDocument>(1, 1_000_000_000)?;
        for text in texts {
            let mut doc = TantivyDocument::default();
            doc.add_text(body, text);
            writer.add_document(doc)?;
        }
        writer.commit()?;
        writer.wait_merging_threads()?;
        let build_time = started.elapsed();
        let index_bytes = dir_size(dir.path())?;
        let reader = index.reader()?;
        Ok(Self {
            _dir: dir,
            reader,
            body,
            index_bytes,
            build_time,
        })
    }

    fn query(&self, spec: &QuerySpec) -> anyhow::Result<Box<dyn Query>> {
        let term = |t: &str| Term::from_field_text(self.body, t);
        Ok(match spec {
            QuerySpec::Terms { terms, all } => {
                let occur = if *all { Occur::Must } else { Occur::Should };
                let clauses: Vec<(Occur, Box<dyn Query>)> = terms
                    .iter()
                    .map(|t| {
                        (
                            occur,
                            Box::new(TermQuery::new(term(t), IndexRecordOption::WithFreqs))
                                as Box<dyn Query>,
                        )
                    })
                    .collect();
                Box::new(BooleanQuery::new(clauses))
            }
            QuerySpec::Prefix(p) => Box::new(RegexQuery::from_pattern(
                &format!("{}.*", regex_escape(p)),
                self.body,
            )?),
            QuerySpec::Phrase(words) => {
                Box::new(PhraseQuery::new(words.iter().map(|w| term(w)).collect()))
            }
            QuerySpec::Fuzzy(w) => Box::new(FuzzyTermQuery::new(term(w), 1, true)),
        })
    }

    /// Build the query and collect the top 10; returns the hit count.
    pub(crate) fn search(&self, spec: &QuerySpec) -> anyhow::Result<usize> {
        let searcher = self.reader.searcher();
        let query = self.query(spec)?;
        Ok(searcher
            .search(&query, &TopDocs::with_limit(10).order_by_score())?
            .len())
    }
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if c.is_alphanumeric() {
                vec![c]
            } else {
                vec!['\\', c]
            }
        })
        .collect()
}

fn dir_size(path: &std::path::Path) -> anyhow::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(path)? {
        let meta = entry?.metadata()?;
        if meta.is_file() {
            total += meta.len();
        }
    }
    Ok(total)
}
