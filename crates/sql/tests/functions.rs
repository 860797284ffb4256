//! The search table functions return exactly what the `Table` methods
//! return, and compose with the rest of SQL.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use arrow::array::{
    AsArray, FixedSizeListArray, Float32Array, Int64Array, RecordBatch, StringArray,
};
use arrow::datatypes::{DataType, Field, Float32Type, Schema, SchemaRef, UInt64Type};
use infino_fts::FtsConfig;
use infino_sql::{SqlContext, SqlError};
use infino_superfile::IndexSpec;
use infino_table::{Connection, Fusion, Table, VectorQuery};
use infino_vector::{BuildParams, Metric, Rerank};

use crate::common::{lines, lines_in_order};

const DIM: usize = 8;
const WORDS: [&str; 12] = [
    "alpha", "beta", "gamma", "delta", "river", "stone", "cloud", "ember", "frost", "grove",
    "harbor", "island",
];
const TAGS: [&str; 4] = ["red", "green", "blue", "gold"];

fn docs_schema() -> SchemaRef {
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("body", DataType::Utf8, true),
        Field::new("tag", DataType::Utf8, false),
        Field::new(
            "embedding",
            DataType::FixedSizeList(item, DIM as i32),
            false,
        ),
    ]))
}

/// A small deterministic generator (no dependence on a rand version).
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn vector_of(seed: u64) -> Vec<f32> {
    (0..DIM as u64)
        .map(|d| (mix(seed * 31 + d) % 2000) as f32 / 1000.0 - 1.0)
        .collect()
}

fn docs(range: std::ops::Range<i64>) -> RecordBatch {
    let bodies: StringArray = range
        .clone()
        .map(|i| {
            (i % 17 != 0).then(|| {
                let h = mix(i as u64);
                (0..3 + h % 5)
                    .map(|w| WORDS[(mix(h + w) % WORDS.len() as u64) as usize])
                    .collect::<Vec<_>>()
                    .join(" ")
            })
        })
        .collect();
    let tags = StringArray::from_iter_values(range.clone().map(|i| TAGS[(i % 4) as usize]));
    let flat: Vec<f32> = range.clone().flat_map(|i| vector_of(i as u64)).collect();
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    let vectors =
        FixedSizeListArray::try_new(item, DIM as i32, Arc::new(Float32Array::from(flat)), None)
            .expect("vectors");
    RecordBatch::try_new(
        docs_schema(),
        vec![
            Arc::new(Int64Array::from_iter_values(range)),
            Arc::new(bodies),
            Arc::new(tags),
            Arc::new(vectors),
        ],
    )
    .expect("docs")
}

async fn setup() -> (SqlContext, Table) {
    let conn = Connection::connect("memory://").expect("connect");
    let spec = IndexSpec::default()
        .with_fts("body", FtsConfig::default())
        .with_vector(
            "embedding",
            Metric::Cosine,
            BuildParams {
                rerank: Rerank::F32,
                ..BuildParams::default()
            },
        );
    let mut t = conn
        .create_table("docs", docs_schema(), &spec)
        .await
        .expect("create");
    for part in [0..300, 300..700, 700..900] {
        t = t.append(&[docs(part)]).await.expect("append");
    }
    let tags_schema = Arc::new(Schema::new(vec![
        Field::new("tag", DataType::Utf8, false),
        Field::new("label", DataType::Utf8, false),
    ]));
    let tags = RecordBatch::try_new(
        Arc::clone(&tags_schema),
        vec![
            Arc::new(StringArray::from_iter_values(TAGS.iter().take(3))),
            Arc::new(StringArray::from(vec!["warm", "fresh", "cool"])),
        ],
    )
    .expect("tags");
    conn.create_table("tags", tags_schema, &IndexSpec::default())
        .await
        .expect("create")
        .append(&[tags])
        .await
        .expect("append");
    (SqlContext::new(&conn).await.expect("context"), t)
}

const ALL: [&str; 4] = ["id", "body", "tag", "embedding"];

fn sql_vector(v: &[f32]) -> String {
    let parts: Vec<String> = v.iter().map(|x| format!("{x:?}")).collect();
    format!("[{}]", parts.join(", "))
}

async fn run(sql: &SqlContext, query: &str) -> Vec<RecordBatch> {
    sql.sql(query)
        .await
        .unwrap_or_else(|e| panic!("{query}: {e}"))
}

fn ids(batches: &[RecordBatch]) -> Vec<u64> {
    batches
        .iter()
        .flat_map(|b| b.column(0).as_primitive::<UInt64Type>().values().to_vec())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_functions_equal_the_table_methods() {
    let (sql, t) = setup().await;
    for (query, k) in [
        ("alpha", 10),
        ("river stone", 25),
        ("+cloud frost", 7),
        ("nothing", 5),
        ("beta", 0),
    ] {
        // `Table::search` cannot gather columns for zero hits; then the
        // answer is the (empty) hit list.
        let expected = if t
            .search_hits("body", query, k)
            .await
            .expect("hits")
            .is_empty()
        {
            Vec::new()
        } else {
            lines_in_order(&[t.search("body", query, k, &ALL).await.expect("search")])
        };
        let got = lines_in_order(
            &run(
                &sql,
                &format!("SELECT * FROM bm25_search('docs', 'body', '{query}', {k})"),
            )
            .await,
        );
        assert_eq!(got, expected, "bm25 {query} {k}");
        assert_eq!(got.is_empty(), k == 0 || query == "nothing");
    }
    assert_eq!(
        lines_in_order(&run(&sql, "SELECT * FROM bm25_search(docs, body, 'alpha', 10)").await),
        lines_in_order(&[t.search("body", "alpha", 10, &ALL).await.expect("search")]),
        "bare identifiers name the table and column"
    );

    for seed in [5_u64, 77, 901] {
        let q = vector_of(seed + 10_000);
        let expected = lines_in_order(&[t
            .vector_search(&VectorQuery::new("embedding", &q, 12), &ALL)
            .await
            .expect("vector")]);
        let literal = format!(
            "SELECT * FROM vector_search('docs', 'embedding', {}, 12)",
            sql_vector(&q)
        );
        assert_eq!(
            lines_in_order(&run(&sql, &literal).await),
            expected,
            "array literal"
        );
        let text = format!(
            "SELECT * FROM vector_search('docs', 'embedding', '{}', 12)",
            sql_vector(&q)
        );
        assert_eq!(
            lines_in_order(&run(&sql, &text).await),
            expected,
            "string vector"
        );
        let probed = VectorQuery {
            nprobe: Some(1),
            ..VectorQuery::new("embedding", &q, 12)
        };
        let expected = lines_in_order(&[t.vector_search(&probed, &ALL).await.expect("vector")]);
        let nprobe = format!(
            "SELECT * FROM vector_search('docs', 'embedding', {}, 12, 1)",
            sql_vector(&q)
        );
        assert_eq!(
            lines_in_order(&run(&sql, &nprobe).await),
            expected,
            "nprobe"
        );

        let near = VectorQuery::new("embedding", &q, 9);
        let expected = lines_in_order(&[t
            .hybrid_search("body", "gamma delta", &near, 9, Fusion::default(), &ALL)
            .await
            .expect("hybrid")]);
        let hybrid = format!(
            "SELECT * FROM hybrid_search('docs', 'body', 'gamma delta', 'embedding', {}, 9)",
            sql_vector(&q)
        );
        assert_eq!(
            lines_in_order(&run(&sql, &hybrid).await),
            expected,
            "hybrid"
        );
    }

    // A projection fetches only what it names and keeps the hit order.
    let expected = t
        .search("body", "ember", 15, &["tag"])
        .await
        .expect("search");
    let got = run(
        &sql,
        "SELECT tag, _score, _id FROM bm25_search('docs', 'body', 'ember', 15)",
    )
    .await;
    let expected_rows: Vec<String> = lines_in_order(&[expected])
        .into_iter()
        .map(|l| {
            let c: Vec<&str> = l.split('|').collect();
            format!("{}|{}|{}", c[2], c[1], c[0])
        })
        .collect();
    assert_eq!(lines_in_order(&got), expected_rows);
    assert_eq!(
        lines(
            &run(
                &sql,
                "SELECT count(*) FROM bm25_search('docs', 'body', 'ember', 15)"
            )
            .await
        ),
        [expected_rows.len().to_string()]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_functions_compose() {
    let (sql, t) = setup().await;
    let hits = t
        .search("body", "alpha", 40, &["tag"])
        .await
        .expect("search");
    let hit_ids = hits
        .column(0)
        .as_primitive::<UInt64Type>()
        .values()
        .to_vec();
    let scores = hits
        .column(1)
        .as_primitive::<Float32Type>()
        .values()
        .to_vec();
    let hit_tags: Vec<String> = hits
        .column(2)
        .as_string::<i32>()
        .iter()
        .map(|s| s.unwrap_or_default().to_owned())
        .collect();
    let id_list = hit_ids
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ");

    // JOIN: the same rows as joining the base table restricted to the hits.
    let joined = run(
        &sql,
        "SELECT s._id, g.label FROM bm25_search('docs', 'body', 'alpha', 40) s JOIN tags g ON s.tag = g.tag",
    )
    .await;
    let oracle = run(
        &sql,
        &format!("SELECT d._id, g.label FROM docs d JOIN tags g ON d.tag = g.tag WHERE d._id IN ({id_list})"),
    )
    .await;
    assert_eq!(lines(&joined), lines(&oracle));
    assert!(!lines(&joined).is_empty());

    // CTE + GROUP BY: counts and best scores per tag, computed by hand.
    let mut per_tag: BTreeMap<&str, (u64, f32)> = BTreeMap::new();
    for (tag, score) in hit_tags.iter().zip(&scores) {
        let e = per_tag.entry(tag).or_insert((0, f32::MIN));
        e.0 += 1;
        e.1 = e.1.max(*score);
    }
    let expected: Vec<String> = per_tag
        .iter()
        .map(|(tag, (n, best))| format!("{tag}|{n}|{best}"))
        .collect();
    let got = run(
        &sql,
        "WITH hits AS (SELECT * FROM bm25_search('docs', 'body', 'alpha', 40)) \
         SELECT tag, count(*), max(_score) FROM hits GROUP BY tag",
    )
    .await;
    assert_eq!(lines(&got), expected);

    // Window: row_number over the score is the hit's rank.
    let got = run(
        &sql,
        "SELECT _id, row_number() OVER (ORDER BY _score DESC, _id) AS rank \
         FROM bm25_search('docs', 'body', 'alpha', 40) ORDER BY rank",
    )
    .await;
    let expected: Vec<String> = hit_ids
        .iter()
        .enumerate()
        .map(|(i, id)| format!("{id}|{}", i + 1))
        .collect();
    assert_eq!(lines_in_order(&got), expected);

    // UNION and INTERSECT of two searches are the set operations on their ids.
    let q = vector_of(4242);
    let near = ids(&[t
        .vector_search(&VectorQuery::new("embedding", &q, 30), &[])
        .await
        .expect("vector")]);
    let (a, b): (BTreeSet<u64>, BTreeSet<u64>) = (
        hit_ids.iter().copied().collect(),
        near.iter().copied().collect(),
    );
    let v = sql_vector(&q);
    let union = run(
        &sql,
        &format!(
            "SELECT _id FROM bm25_search('docs', 'body', 'alpha', 40) \
             UNION SELECT _id FROM vector_search('docs', 'embedding', {v}, 30) ORDER BY _id"
        ),
    )
    .await;
    assert_eq!(ids(&union), a.union(&b).copied().collect::<Vec<_>>());
    let both = run(
        &sql,
        &format!(
            "SELECT _id FROM bm25_search('docs', 'body', 'alpha', 40) \
             INTERSECT SELECT _id FROM vector_search('docs', 'embedding', {v}, 30) ORDER BY _id"
        ),
    )
    .await;
    assert_eq!(ids(&both), a.intersection(&b).copied().collect::<Vec<_>>());
}

#[tokio::test]
async fn bad_arguments_are_typed_errors() {
    let (sql, _t) = setup().await;
    let v = sql_vector(&vector_of(1));
    for (query, needle) in [
        (
            "SELECT * FROM bm25_search('nowhere', 'body', 'a', 5)",
            "no table named nowhere",
        ),
        (
            "SELECT * FROM bm25_search('docs', 'nope', 'a', 5)",
            "has no column nope",
        ),
        (
            "SELECT * FROM bm25_search('docs', 'tag', 'a', 5)",
            "has no full-text index",
        ),
        (
            "SELECT * FROM bm25_search('docs', 'body', 'a', -1)",
            "must not be negative",
        ),
        (
            "SELECT * FROM bm25_search('docs', 'body', 'a', 'ten')",
            "must be an integer",
        ),
        (
            "SELECT * FROM bm25_search('docs', 'body', 'a', 5, 'nope = 1')",
            "bm25_search: filter `nope = 1`",
        ),
        (
            "SELECT * FROM bm25_search('docs', 'body', 'a', 5, 7)",
            "filter",
        ),
        (
            "SELECT * FROM bm25_search('docs', 'body', 'a')",
            "takes (table, column, query, k [, filter])",
        ),
        (
            "SELECT * FROM bm25_search('docs', 'body', 7, 5)",
            "must be a string",
        ),
        (
            &format!("SELECT * FROM vector_search('docs', 'body', {v}, 5)"),
            "has no vector index",
        ),
        (
            "SELECT * FROM vector_search('docs', 'embedding', '[1, x]', 5)",
            "not a number",
        ),
        (
            "SELECT * FROM vector_search('docs', 'embedding', 3, 5)",
            "must be an array",
        ),
        (
            "SELECT * FROM hybrid_search('docs', 'body', 'a', 'embedding', 5)",
            "takes (table",
        ),
        // Found when the search runs: the Table's own errors.
        (
            "SELECT * FROM vector_search('docs', 'embedding', [1.0, 2.0], 5)",
            "dimension",
        ),
        (
            "SELECT * FROM bm25_search('docs', 'body', '(alpha', 5)",
            "arenthes",
        ),
    ] {
        let err = sql.sql(query).await.expect_err(query);
        assert!(matches!(err, SqlError::DataFusion(_)), "{query}: {err}");
        assert!(err.to_string().contains(needle), "{query}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vector_search_takes_matches_as_its_allow_set() {
    let (sql, t) = setup().await;
    let q = vector_of(31_337);
    let v = sql_vector(&q);
    for filter in ["alpha", "river AND NOT stone"] {
        let filtered = VectorQuery {
            filter: Some(("body", filter)),
            ..VectorQuery::new("embedding", &q, 15)
        };
        let expected = lines_in_order(&[t
            .vector_search(&filtered, &["id", "tag"])
            .await
            .expect("filtered")]);
        let got = lines_in_order(
            &run(
                &sql,
                &format!(
                    "SELECT _id, _score, id, tag FROM vector_search('docs', 'embedding', {v}, 15) \
                     WHERE matches(body, '{filter}')"
                ),
            )
            .await,
        );
        // The 15 nearest of the matching rows, not the matches among the 15 nearest.
        assert_eq!(got, expected, "{filter}");
        assert_eq!(got.len(), 15, "{filter}");
    }
    // Two matches() on the same column are both applied.
    let both = VectorQuery {
        filter: Some(("body", "(alpha) AND (beta)")),
        ..VectorQuery::new("embedding", &q, 8)
    };
    let expected = ids(&[t.vector_search(&both, &[]).await.expect("both")]);
    let got = run(
        &sql,
        &format!(
            "SELECT _id FROM vector_search('docs', 'embedding', {v}, 8) \
             WHERE matches(body, 'alpha') AND matches(body, 'beta')"
        ),
    )
    .await;
    assert_eq!(ids(&got), expected);
    // A predicate on the table's columns is an allow set too: the 20
    // nearest red rows (see `filtered_vectors.rs` for the oracle).
    let red = t.ids_matching("tag = 'red'").await.expect("red ids");
    let allowed = VectorQuery {
        ids: Some(&red),
        ..VectorQuery::new("embedding", &q, 20)
    };
    let expected = ids(&[t.vector_search(&allowed, &[]).await.expect("red")]);
    let got = run(
        &sql,
        &format!("SELECT _id FROM vector_search('docs', 'embedding', {v}, 20) WHERE tag = 'red'"),
    )
    .await;
    assert_eq!(ids(&got), expected);
    assert_eq!(expected.len(), 20);
}

/// `bm25_search` and `hybrid_search` also return their best `k` among the
/// rows a predicate on the table's columns keeps (placed on the call or
/// given as its `filter` argument), not the rows it keeps among their best
/// `k`: the oracle is the unfiltered ranking with the other rows left out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bm25_and_hybrid_search_take_row_predicates_as_allow_sets() {
    let (sql, t) = setup().await;
    let red: BTreeSet<u64> = t
        .ids_matching("tag = 'red'")
        .await
        .expect("red ids")
        .into_iter()
        .collect();
    for query in ["alpha", "river OR stone"] {
        let full = t.search_hits("body", query, 1_000).await.expect("full");
        let want: Vec<String> = full
            .iter()
            .filter(|h| red.contains(&h.id))
            .take(15)
            .map(|h| format!("{}|{}", h.id, h.score))
            .collect();
        assert_eq!(want.len(), 15, "{query}: enough red matches");
        for call in [
            format!("bm25_search('docs', 'body', '{query}', 15) WHERE tag = 'red'"),
            format!("bm25_search('docs', 'body', '{query}', 15, 'tag = ''red''')"),
        ] {
            let got = lines_in_order(&run(&sql, &format!("SELECT _id, _score FROM {call}")).await);
            assert_eq!(got, want, "{call}");
        }
    }
    let q = vector_of(4_242);
    let v = sql_vector(&q);
    let red_ids: Vec<u64> = red.iter().copied().collect();
    let near = VectorQuery {
        ids: Some(&red_ids),
        ..VectorQuery::new("embedding", &q, 10)
    };
    let expected = t
        .hybrid_search_hits("body", "alpha", &near, 10, Fusion::default())
        .await
        .expect("hybrid");
    assert_eq!(expected.len(), 10);
    assert!(expected.iter().all(|h| red.contains(&h.id)));
    let got = run(
        &sql,
        &format!(
            "SELECT _id FROM hybrid_search('docs', 'body', 'alpha', 'embedding', {v}, 10) \
             WHERE tag = 'red'"
        ),
    )
    .await;
    assert_eq!(ids(&got), expected.iter().map(|h| h.id).collect::<Vec<_>>());
}

#[tokio::test]
async fn vector_columns_read_as_lists() {
    let (sql, _t) = setup().await;
    let got = run(
        &sql,
        "SELECT id, embedding, embedding[1] AS first FROM docs WHERE id IN (3, 450, 899) ORDER BY id",
    )
    .await;
    let expected: Vec<String> = [3_u64, 450, 899]
        .iter()
        .map(|&i| {
            let v = vector_of(i);
            let cells: Vec<String> = v.iter().map(f32::to_string).collect();
            format!("{i}|[{}]|{}", cells.join(", "), v[0])
        })
        .collect();
    assert_eq!(lines_in_order(&got), expected);
}

/// `_id|_score|_highlight` of `hits` for `query` on `body`, as the table
/// methods give them.
async fn highlighted(t: &Table, query: &str, hits: &[infino_table::Hit]) -> Vec<String> {
    let snippets = t
        .highlights(
            "body",
            query,
            hits,
            &infino_fts::HighlightOptions::default(),
        )
        .await
        .expect("highlights");
    hits.iter()
        .zip(&snippets)
        .map(|(h, s)| format!("{}|{}|{}", h.id, h.score, s.as_deref().unwrap_or("NULL")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn highlight_marks_the_search_terms() {
    let (sql, t) = setup().await;
    for (query, k) in [("alpha river", 6), ("nothing", 3)] {
        let hits = t.search_hits("body", query, k).await.expect("hits");
        let expected = highlighted(&t, query, &hits).await;
        let got = run(
            &sql,
            &format!(
                "SELECT _id, _score, _highlight FROM highlight('docs', 'body', '{query}', {k})"
            ),
        )
        .await;
        assert_eq!(lines_in_order(&got), expected, "{query}");
    }
    // A row predicate, on the call or as the `filter` argument, makes the
    // answer the best `k` of the rows it holds for (not a thinned top `k`):
    // the hits `bm25_search` gives with the same predicate, highlighted.
    let red: Vec<u64> = t.ids_matching("tag = 'red'").await.expect("red ids");
    let hits = t
        .search_hits_among(
            "body",
            "alpha",
            12,
            infino_fts::Bm25Params::default(),
            Some(&red),
        )
        .await
        .expect("red hits");
    assert_eq!(hits.len(), 12, "enough red matches");
    let expected = highlighted(&t, "alpha", &hits).await;
    for call in [
        "highlight('docs', 'body', 'alpha', 12) WHERE tag = 'red'",
        "highlight('docs', 'body', 'alpha', 12, 'tag = ''red''')",
    ] {
        let got = run(&sql, &format!("SELECT _id, _score, _highlight FROM {call}")).await;
        assert_eq!(lines_in_order(&got), expected, "{call}");
    }
    // With table columns, in hit order.
    let got = run(
        &sql,
        "SELECT id, _highlight, tag FROM highlight('docs', 'body', 'ember', 4)",
    )
    .await;
    assert_eq!(lines_in_order(&got).len(), 4);
    assert!(
        lines_in_order(&got).iter().all(|l| l.contains("ember")),
        "{:?}",
        lines_in_order(&got)
    );
}
