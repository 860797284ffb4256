//! Deletes, updates, upserts, conflicts, compaction and garbage collection,
//! checked against brute-force oracles over the live rows.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use arrow::array::{AsArray, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{Int64Type, UInt64Type};
use infino_table::{
    Connection, GcOptions, OptimizeOptions, RowFilter, Table, TableError, TableOptions, VectorQuery,
};
use infino_testkit::corpus::word;

use crate::common::{batch, bodies, schema, spec};
use crate::relevance::{oracle, same};

/// `(_id, user id)` of every live row.
async fn live(table: &Table) -> Vec<(u64, i64)> {
    let mut out = Vec::new();
    for b in table.scan(Some(&["id"])).await.expect("scan") {
        let ids = b.column(0).as_primitive::<UInt64Type>();
        let users = b.column(1).as_primitive::<Int64Type>();
        out.extend((0..b.num_rows()).map(|i| (ids.value(i), users.value(i))));
    }
    out.sort_unstable();
    out
}

/// BM25, counts and exact vector search of `table` equal the oracles over
/// `docs` with the rows `deleted` says are gone.
async fn agrees_with_oracle(
    table: &Table,
    docs: &[Option<String>],
    vecs: &[Vec<f32>],
    deleted: impl Fn(usize) -> bool,
) {
    let alive: Vec<Option<String>> = docs
        .iter()
        .enumerate()
        .map(|(i, d)| if deleted(i) { None } else { d.clone() })
        .collect();
    for terms in [
        vec![word(0)],
        vec![word(7), word(40)],
        vec![word(1), word(3), word(300), word(1_200)],
    ] {
        let text = terms.join(" ");
        let got = table.search_hits("body", &text, 10).await.expect("search");
        same(&got, &oracle(&alive, &terms, 10), &text);
    }
    let expected = alive
        .iter()
        .flatten()
        .filter(|d| d.split(' ').any(|w| w == word(4)))
        .count() as u64;
    assert_eq!(
        table.count("body", &word(4)).await.expect("count"),
        expected
    );
    for q in [3usize, 77, 500] {
        let query = VectorQuery {
            exact: true,
            ..VectorQuery::new("embedding", &vecs[q], 10)
        };
        let got: Vec<u64> = table
            .vector_search_hits(&query)
            .await
            .expect("vector")
            .iter()
            .map(|h| h.id)
            .collect();
        assert_eq!(
            got,
            crate::vectors::exact(vecs, &vecs[q], 10, |i| !deleted(i))
        );
    }
    let n = docs.len() - (0..docs.len()).filter(|&i| deleted(i)).count();
    assert_eq!(table.num_rows(), n as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_rows_leave_search_counts_statistics_and_scans() {
    let (t, docs, vecs) = crate::vectors::table(4, 300).await;
    let gone = |i: usize| i.is_multiple_of(5) || (600..650).contains(&i);
    let m = t
        .delete("id % 5 = 0 OR (id >= 600 AND id < 650)")
        .await
        .expect("delete");
    assert_eq!(m.deleted, (0..1200).filter(|&i| gone(i)).count() as u64);
    assert_eq!(m.inserted, 0);
    assert_eq!(m.table.version(), t.version() + 1);
    agrees_with_oracle(&m.table, &docs, &vecs, gone).await;
    // The old version still sees every row (snapshot reads).
    assert_eq!(t.num_rows(), 1200);
    // A second delete on the same files merges with the first.
    let m2 = m
        .table
        .delete(RowFilter::Ids(vec![1, 2, 5, 1199, 99_999]))
        .await
        .expect("delete ids");
    assert_eq!(m2.deleted, 3, "5 was already gone, 99999 never existed");
    let gone2 = |i: usize| gone(i) || [1, 2, 1199].contains(&i);
    agrees_with_oracle(&m2.table, &docs, &vecs, gone2).await;
    let reopened = t.checkout_latest().await.expect("latest");
    agrees_with_oracle(&reopened, &docs, &vecs, gone2).await;
    let ids: Vec<u64> = live(&reopened).await.iter().map(|p| p.0).collect();
    let want: Vec<u64> = (0..1200u64).filter(|&i| !gone2(i as usize)).collect();
    assert_eq!(ids, want);
}

#[tokio::test]
async fn bad_predicates_are_typed_errors_and_commit_nothing() {
    let conn = Connection::connect("memory://").expect("connect");
    let t = conn
        .create_table("t", schema(), &spec())
        .await
        .expect("create");
    let t = t.append(&[batch(0, &bodies(50, 1))]).await.expect("append");
    for bad in [
        "nope = 1",
        "id = ",
        "id + 1",
        "body > 5 AND",
        "id = 'not a number'",
    ] {
        let err = t.delete(bad).await.expect_err(bad);
        assert!(
            matches!(err, TableError::InvalidPredicate { .. }),
            "{bad}: {err}"
        );
    }
    let err = t
        .update("id = 1", &[("missing", "1")])
        .await
        .expect_err("unknown column");
    assert!(matches!(err, TableError::InvalidPredicate { .. }), "{err}");
    let err = t
        .upsert(&[batch(0, &bodies(2, 1))])
        .await
        .expect_err("no key");
    assert!(matches!(err, TableError::Key { .. }), "{err}");
    let latest = t.checkout_latest().await.expect("latest");
    assert_eq!((latest.version(), latest.num_rows()), (1, 50));
}

fn keyed(rows: &[(i64, &str)]) -> RecordBatch {
    let ids = Int64Array::from_iter_values(rows.iter().map(|r| r.0));
    let texts: StringArray = rows.iter().map(|r| Some(r.1)).collect();
    RecordBatch::try_new(schema(), vec![Arc::new(ids), Arc::new(texts)]).expect("batch")
}

use std::sync::Arc;

/// User id → body of every live row.
async fn contents(table: &Table) -> HashMap<i64, String> {
    let mut out = HashMap::new();
    for b in table.scan(Some(&["id", "body"])).await.expect("scan") {
        let users = b.column(1).as_primitive::<Int64Type>();
        let texts = b.column(2).as_string::<i32>();
        for i in 0..b.num_rows() {
            let previous = out.insert(users.value(i), texts.value(i).to_owned());
            assert!(previous.is_none(), "key {} twice", users.value(i));
        }
    }
    out
}

#[tokio::test]
async fn update_and_upsert_replace_rows_in_one_commit() {
    let conn = Connection::connect("memory://").expect("connect");
    let t = conn
        .create_table_with(
            "k",
            schema(),
            &spec(),
            &TableOptions::default().with_key("id"),
        )
        .await
        .expect("create");
    let t = t
        .append(&[keyed(&[
            (1, "alpha one"),
            (2, "beta two"),
            (3, "gamma three"),
        ])])
        .await
        .expect("append");
    let m = t
        .update("id >= 2", &[("body", "concat(body, ' zebra')")])
        .await
        .expect("update");
    assert_eq!((m.deleted, m.inserted), (2, 2));
    let c = contents(&m.table).await;
    assert_eq!(c[&1], "alpha one");
    assert_eq!(c[&2], "beta two zebra");
    assert_eq!(m.table.count("body", "zebra").await.expect("count"), 2);
    assert_eq!(m.table.count("body", "beta").await.expect("count"), 1);

    let up = m
        .table
        .upsert(&[keyed(&[(3, "gamma replaced"), (4, "delta new")])])
        .await
        .expect("upsert");
    assert_eq!((up.deleted, up.inserted), (1, 2));
    let c = contents(&up.table).await;
    assert_eq!(c.len(), 4);
    assert_eq!(c[&3], "gamma replaced");
    assert_eq!(c[&4], "delta new");
    assert_eq!(up.table.count("body", "zebra").await.expect("count"), 1);
    assert_eq!(up.table.version(), m.table.version() + 1, "one commit");

    let dup = up
        .table
        .upsert(&[keyed(&[(5, "a"), (5, "b")])])
        .await
        .expect_err("duplicate keys");
    assert!(matches!(dup, TableError::Key { .. }), "{dup}");
    let err = up
        .table
        .update("id = 1", &[("id", "7")])
        .await
        .expect_err("key assignment");
    assert!(matches!(err, TableError::Key { .. }), "{err}");
}

#[tokio::test]
async fn concurrent_mutations_rebase_or_report_a_conflict() {
    let conn = Connection::connect("memory://").expect("connect");
    let t = conn
        .create_table_with(
            "c",
            schema(),
            &spec(),
            &TableOptions::default().with_key("id"),
        )
        .await
        .expect("create");
    let t = t
        .append(&[batch(0, &bodies(100, 2))])
        .await
        .expect("append");
    // Both start from the same version; disjoint deletes both land.
    let a = t.delete("id < 10").await.expect("a");
    let b = t.delete("id >= 90").await.expect("b rebases");
    assert_eq!(b.table.version(), a.table.version() + 1);
    assert_eq!(b.table.num_rows(), 80);
    // An append in between never conflicts.
    let appended = t
        .append(&[batch(100, &bodies(5, 3))])
        .await
        .expect("append");
    assert_eq!(appended.num_rows(), 85);
    // Overlapping deletes from the same old snapshot: a typed conflict.
    let err = t.delete("id < 20").await.expect_err("overlap");
    assert!(matches!(err, TableError::Conflict { .. }), "{err}");
    // Two upserts of the same new key from one snapshot: the second loses.
    let base = t.checkout_latest().await.expect("latest");
    base.upsert(&[keyed(&[(500, "first")])])
        .await
        .expect("first");
    let err = base
        .upsert(&[keyed(&[(500, "second")])])
        .await
        .expect_err("same new key");
    assert!(matches!(err, TableError::Conflict { .. }), "{err}");
    let latest = t.checkout_latest().await.expect("latest");
    let c = contents(&latest).await;
    assert_eq!(c[&500], "first");
    assert_eq!(latest.num_rows(), 86);
}

/// Everything a reader can observe, for before/after comparisons.
async fn observe(table: &Table, vecs: &[Vec<f32>]) -> Vec<String> {
    let mut out = vec![format!("{:?}", live(table).await)];
    for q in [
        word(0),
        format!("{} {}", word(2), word(9)),
        format!("+{} -{}", word(0), word(1)),
    ] {
        let hits = table.search_hits("body", &q, 20).await.expect("search");
        out.push(format!(
            "{q}: {:?}",
            hits.iter().map(|h| (h.id, h.score)).collect::<Vec<_>>()
        ));
        out.push(format!(
            "{q}: {}",
            table.count("body", &q).await.expect("count")
        ));
    }
    for q in [5usize, 400] {
        let query = VectorQuery {
            exact: true,
            ..VectorQuery::new("embedding", &vecs[q], 10)
        };
        let hits = table.vector_search_hits(&query).await.expect("vector");
        out.push(format!(
            "{:?}",
            hits.iter().map(|h| (h.id, h.score)).collect::<Vec<_>>()
        ));
    }
    let batch = table
        .search("body", &word(3), 5, &["id", "body"])
        .await
        .expect("rows");
    out.push(format!("{batch:?}"));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn optimize_keeps_every_answer_and_gc_frees_the_old_files() {
    let (t, docs, vecs) = crate::vectors::table(8, 100).await;
    let t = t.delete("id % 3 = 0").await.expect("delete").table;
    let t = t
        .delete("id >= 250 AND id < 420")
        .await
        .expect("delete")
        .table;
    let before = observe(&t, &vecs).await;
    let options = OptimizeOptions::with_target_rows(300);
    let done = t.optimize(&options).await.expect("optimize");
    assert_eq!(done.files_removed, 8);
    assert!(
        done.files_added >= 1 && done.files_added < 8,
        "{}",
        done.files_added
    );
    assert_eq!(done.rows_written, t.num_rows());
    let after = observe(&done.table, &vecs).await;
    assert_eq!(before, after, "every answer identical after compaction");
    let gone = |i: usize| i.is_multiple_of(3) || (250..420).contains(&i);
    agrees_with_oracle(&done.table, &docs, &vecs, gone).await;
    assert!(
        done.table
            .manifest()
            .files
            .iter()
            .all(|f| f.deletes.is_none())
    );
    // Nothing left to do.
    let again = done.table.optimize(&options).await.expect("again");
    assert_eq!(again.files_added, 0);

    // A delete after compaction addresses rows by their kept `_id`s.
    let later = done
        .table
        .delete(RowFilter::Ids(vec![1, 2, 700]))
        .await
        .expect("delete ids");
    assert_eq!(later.deleted, 3);
    let gone2 = |i: usize| gone(i) || [1, 2, 700].contains(&i);
    agrees_with_oracle(&later.table, &docs, &vecs, gone2).await;

    // GC with no retention keeps only the latest version's files.
    let store = later.table.checkout_latest().await.expect("latest");
    let report = store
        .gc(&GcOptions::new(Duration::ZERO, Duration::ZERO))
        .await
        .expect("gc");
    assert_eq!(report.versions_kept, 1);
    assert_eq!(report.versions_deleted as u64, later.table.version());
    assert!(report.files_deleted >= 8 + 2, "{report:?}");
    let reopened = later
        .table
        .checkout_latest()
        .await
        .expect("reopen after gc");
    agrees_with_oracle(&reopened, &docs, &vecs, gone2).await;
    let old = t.checkout_latest().await.expect("latest");
    assert_eq!(old.version(), later.table.version());
}

#[tokio::test]
async fn gc_keeps_versions_inside_the_window_and_young_files() {
    let dir = tempfile::tempdir().expect("dir");
    let conn = Connection::connect(dir.path().to_str().expect("utf-8")).expect("connect");
    let mut t = conn
        .create_table("g", schema(), &spec())
        .await
        .expect("create");
    for i in 0..4 {
        t = t
            .append(&[batch(i * 10, &bodies(10, 4))])
            .await
            .expect("append");
    }
    let t = t.delete("id < 15").await.expect("delete").table;
    // Inside a long window everything stays.
    let kept = t.gc(&GcOptions::default()).await.expect("gc");
    assert_eq!((kept.versions_deleted, kept.files_deleted), (0, 0));
    // An orphan uploaded "just now" (an in-flight commit) survives a zero
    // retention with a grace period; committed data does too.
    let orphan = infino_store::Path::from("g/data/in-flight.sf.parquet");
    conn.store()
        .put(&orphan, bytes::Bytes::from_static(b"x"))
        .await
        .expect("put");
    // A zero window still holds a version committed in this very
    // millisecond: let the last commit age past it first.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let report = t
        .gc(&GcOptions::new(Duration::ZERO, Duration::from_secs(600)))
        .await
        .expect("gc");
    assert_eq!(report.versions_deleted, 5);
    assert_eq!(report.files_deleted, 0, "young files are kept");
    assert!(conn.store().head(&orphan).await.is_ok());
    let err = conn.open_table_at("g", 2).await.expect_err("collected");
    assert!(matches!(err, TableError::NoSuchVersion { .. }), "{err}");
    let latest = conn.open_table("g").await.expect("open");
    assert_eq!(latest.num_rows(), 25);
    // A writer holding an old handle commits after the collection without
    // reusing a collected version number.
    let appended = t
        .append(&[batch(100, &bodies(3, 5))])
        .await
        .expect("append");
    assert_eq!(appended.version(), latest.version() + 1);
    assert_eq!(appended.num_rows(), 28);
    let ids: BTreeSet<i64> = live(&appended).await.iter().map(|p| p.1).collect();
    assert_eq!(ids.len(), 28);
}
