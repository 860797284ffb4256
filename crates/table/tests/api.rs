//! Token match, exact match, highlights, the id filter of vector search,
//! version history and statistics — each against a brute-force answer.

use std::collections::HashSet;

use infino_fts::{Analyzer, AnalyzerConfig};
use infino_table::{Connection, HighlightOptions, MatchMode, VectorQuery};
use infino_testkit::corpus::word;

use crate::common::{batch, bodies, schema, spec};

fn terms(text: &str) -> HashSet<String> {
    Analyzer::new(AnalyzerConfig::default())
        .expect("analyzer")
        .terms(text)
        .into_iter()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_and_exact_match_agree_with_brute_force() {
    let mut docs = bodies(600, 11);
    // Some exact duplicates, and a near-duplicate differing only in case.
    for i in [10, 200, 450] {
        docs[i] = Some("the quick brown fox".into());
    }
    docs[300] = Some("The Quick Brown Fox".into());
    let conn = Connection::connect("memory://").expect("connect");
    let mut t = conn
        .create_table("m", schema(), &spec())
        .await
        .expect("create");
    for (i, chunk) in docs.chunks(200).enumerate() {
        t = t
            .append(&[batch(i as i64 * 200, chunk)])
            .await
            .expect("append");
    }
    let t = t.delete("id = 200").await.expect("delete").table;
    let live = |i: usize| i != 200;

    let query = format!("{} {}", word(2), word(9));
    let want = terms(&query);
    for mode in [MatchMode::Any, MatchMode::All] {
        let got: Vec<u64> = t
            .token_match_hits("body", &query, mode, usize::MAX)
            .await
            .expect("token match")
            .iter()
            .map(|h| h.id)
            .collect();
        let expected: Vec<u64> = docs
            .iter()
            .enumerate()
            .filter(|(i, d)| {
                let Some(d) = d else { return false };
                let have = terms(d);
                live(*i)
                    && match mode {
                        MatchMode::Any => want.iter().any(|w| have.contains(w)),
                        _ => want.iter().all(|w| have.contains(w)),
                    }
            })
            .map(|(i, _)| i as u64)
            .collect();
        assert!(!expected.is_empty());
        assert_eq!(got, expected, "{mode:?}");
    }
    let limited = t
        .token_match_hits("body", &query, MatchMode::Any, 3)
        .await
        .expect("limit");
    assert_eq!(limited.len(), 3);

    let exact: Vec<u64> = t
        .exact_match_hits("body", "the quick brown fox", usize::MAX)
        .await
        .expect("exact")
        .iter()
        .map(|h| h.id)
        .collect();
    assert_eq!(exact, vec![10, 450], "case differs at 300, 200 is deleted");
    let batch = t
        .exact_match("body", "The Quick Brown Fox", 10, &["id"])
        .await
        .expect("exact batch");
    assert_eq!(batch.num_rows(), 1);

    let hits = t.search_hits("body", "quick fox", 5).await.expect("search");
    let snippets = t
        .highlights("body", "quick fox", &hits, &HighlightOptions::default())
        .await
        .expect("highlights");
    assert_eq!(snippets.len(), hits.len());
    for s in &snippets {
        let s = s.as_deref().expect("a value");
        assert!(
            s.contains("<b>quick</b>") || s.contains("<b>Quick</b>"),
            "{s}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vector_search_restricted_to_ids() {
    let (t, _, vecs) = crate::vectors::table(3, 200).await;
    let allowed: Vec<u64> = (0..600).filter(|i| i % 7 == 3).collect();
    let query = VectorQuery {
        exact: true,
        ids: Some(&allowed),
        ..VectorQuery::new("embedding", &vecs[42], 10)
    };
    let got: Vec<u64> = t
        .vector_search_hits(&query)
        .await
        .expect("search")
        .iter()
        .map(|h| h.id)
        .collect();
    let set: HashSet<u64> = allowed.iter().copied().collect();
    let want = crate::vectors::exact(&vecs, &vecs[42], 10, |i| set.contains(&(i as u64)));
    assert_eq!(got, want);
}

#[tokio::test]
async fn versions_and_stats_describe_the_history() {
    let conn = Connection::connect("memory://").expect("connect");
    let t = conn
        .create_table("h", schema(), &spec())
        .await
        .expect("create");
    let t = t.append(&[batch(0, &bodies(30, 1))]).await.expect("append");
    let t = t
        .append(&[batch(30, &bodies(20, 2))])
        .await
        .expect("append");
    let t = t.delete("id < 5").await.expect("delete").table;
    let history = t.versions().await.expect("versions");
    let ops: Vec<(u64, &str, u64)> = history
        .iter()
        .map(|v| (v.version, v.operation.as_str(), v.rows))
        .collect();
    assert_eq!(
        ops,
        vec![
            (0, "create", 0),
            (1, "append", 30),
            (2, "append", 50),
            (3, "delete", 45)
        ]
    );
    let stats = t.stats();
    assert_eq!((stats.rows, stats.deleted_rows, stats.files), (45, 5, 2));
    let docs: Vec<Option<String>> = bodies(30, 1).into_iter().chain(bodies(20, 2)).collect();
    let live_docs: Vec<&String> = docs.iter().skip(5).flatten().collect();
    let analyzer = Analyzer::new(AnalyzerConfig::default()).expect("analyzer");
    let tokens: usize = live_docs.iter().map(|d| analyzer.terms(d).len()).sum();
    let body = stats.fts["body"];
    assert_eq!(
        (body.doc_count, body.total_tokens),
        (live_docs.len() as u64, tokens as u64)
    );
}

#[tokio::test]
async fn append_stream_commits_once_and_nothing_on_error() {
    let conn = Connection::connect("memory://").expect("connect");
    let t = conn
        .create_table("s", schema(), &spec())
        .await
        .expect("create");
    let batches: Vec<Result<_, infino_table::TableError>> = (0..5)
        .map(|i| Ok(batch(i * 10, &bodies(10, i.cast_unsigned()))))
        .collect();
    let t = t
        .append_stream(futures::stream::iter(batches))
        .await
        .expect("stream");
    assert_eq!((t.version(), t.num_rows()), (1, 50));
    let failing = vec![
        Ok(batch(50, &bodies(10, 9))),
        Err(infino_table::TableError::NoSuchTable("stream broke".into())),
    ];
    let err = t
        .append_stream(futures::stream::iter(failing))
        .await
        .expect_err("stream error");
    assert!(
        matches!(err, infino_table::TableError::NoSuchTable(_)),
        "{err}"
    );
    let latest = t.checkout_latest().await.expect("latest");
    assert_eq!((latest.version(), latest.num_rows()), (1, 50));
}

#[tokio::test]
async fn matching_rows_and_empty_projections() {
    let conn = Connection::connect("memory://").expect("connect");
    let mut t = conn
        .create_table("e", schema(), &spec())
        .await
        .expect("create");
    for i in 0..3 {
        t = t
            .append(&[batch(i * 50, &bodies(50, 40 + i.cast_unsigned()))])
            .await
            .expect("append");
    }
    let t = t.delete("id < 10").await.expect("delete").table;
    let term = word(5);
    let rows = t.matching_rows("body", &term).await.expect("rows");
    let total: u64 = rows.iter().map(|(_, r)| r.len()).sum();
    assert_eq!(total, t.count("body", &term).await.expect("count"));
    for (file, r) in &rows {
        let deleted = t.deleted_rows(*file).await.expect("deleted");
        assert!(deleted.is_none_or(|d| d.intersection_len(r) == 0));
    }
    // No hits with projected columns: an empty batch with the right schema.
    let none = t
        .search("body", "zzzznotaword", 10, &["id", "body"])
        .await
        .expect("empty search");
    assert_eq!((none.num_rows(), none.num_columns()), (0, 4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_split_rows_into_equal_shards_within_the_tables_targets() {
    use infino_table::{TableError, TableOptions};
    let conn = Connection::connect("memory://").expect("connect");
    let docs = bodies(3_500, 5);
    let rows_per_file = |t: &infino_table::Table| -> Vec<u64> {
        t.manifest().files.iter().map(|f| f.rows).collect()
    };

    // 3,500 rows at a 1,000-row target: four files of 875, not 3 × 1,000 + 500.
    let t = conn
        .create_table_with(
            "by_rows",
            schema(),
            &spec(),
            &TableOptions::default().with_target_rows(1_000),
        )
        .await
        .expect("create");
    let t = t.append(&[batch(0, &docs)]).await.expect("append");
    assert_eq!(rows_per_file(&t), vec![875; 4]);
    // The target lives in the table: a fresh handle's append keeps it.
    let reopened = conn.open_table("by_rows").await.expect("open");
    let t = reopened
        .append(&[batch(10_000, &docs[..1_200])])
        .await
        .expect("append");
    assert_eq!(rows_per_file(&t)[4..], [600, 600]);
    assert_eq!(rows_per_file(&t).iter().sum::<u64>(), 4_700);

    // A byte target splits wide rows further than the row target would.
    let bytes = batch(0, &docs).get_array_memory_size() as u64;
    let t = conn
        .create_table_with(
            "by_bytes",
            schema(),
            &spec(),
            &TableOptions::default().with_target_bytes(bytes / 3 + 1),
        )
        .await
        .expect("create");
    let t = t.append(&[batch(0, &docs)]).await.expect("append");
    let sizes = rows_per_file(&t);
    assert_eq!(sizes.len(), 3, "{sizes:?}");
    assert_eq!(sizes.iter().sum::<u64>(), 3_500);
    assert!(
        sizes.iter().all(|&n| n.abs_diff(3_500 / 3) <= 1),
        "{sizes:?}"
    );

    // A zero target is refused, and no table is created.
    let err = conn
        .create_table_with(
            "zero",
            schema(),
            &spec(),
            &TableOptions::default().with_target_rows(0),
        )
        .await
        .expect_err("zero rows");
    assert!(matches!(err, TableError::InvalidOption { .. }), "{err}");
    assert!(conn.open_table("zero").await.is_err());
}
