//! Snapshot isolation, time travel, catalog operations and bad input.

use infino_table::{Connection, TableError};
use infino_testkit::corpus::word;

use crate::common::{batch, bodies, schema, spec};

#[tokio::test]
async fn pinned_readers_see_their_version() {
    let conn = Connection::connect("memory://").expect("connect");
    let t0 = conn
        .create_table("t", schema(), &spec())
        .await
        .expect("create");
    let t1 = t0
        .append(&[batch(0, &bodies(200, 1))])
        .await
        .expect("append");
    let before = t1.search_hits("body", &word(0), 5).await.expect("search");

    let writer = conn.open_table("t").await.expect("open");
    let t2 = writer
        .append(&[batch(200, &bodies(300, 2))])
        .await
        .expect("append");
    assert_eq!((t1.version(), t2.version()), (1, 2));
    assert_eq!(t1.num_rows(), 200, "the pinned handle does not move");
    assert_eq!(
        t1.search_hits("body", &word(0), 5).await.expect("search"),
        before
    );
    assert_eq!(conn.open_table("t").await.expect("latest").num_rows(), 500);
    assert_eq!(
        conn.open_table_at("t", 1).await.expect("v1").num_rows(),
        200
    );
    assert_eq!(conn.open_table_at("t", 0).await.expect("v0").num_rows(), 0);
    assert!(matches!(
        conn.open_table_at("t", 9).await,
        Err(TableError::NoSuchVersion { version: 9, .. })
    ));
    assert_eq!(t1.checkout_latest().await.expect("latest").version(), 2);
}

#[tokio::test]
async fn catalog_and_bad_input() {
    let conn = Connection::connect("memory://").expect("connect");
    conn.create_table("a", schema(), &spec())
        .await
        .expect("create");
    conn.create_table("b", schema(), &spec())
        .await
        .expect("create");
    assert!(matches!(
        conn.create_table("a", schema(), &spec()).await,
        Err(TableError::TableExists(_))
    ));
    assert!(matches!(
        conn.create_table("../x", schema(), &spec()).await,
        Err(TableError::InvalidName { .. })
    ));
    assert!(matches!(
        conn.open_table("missing").await,
        Err(TableError::NoSuchTable(_))
    ));
    assert_eq!(conn.list_tables().await.expect("list"), ["a", "b"]);
    conn.drop_table("a").await.expect("drop");
    assert_eq!(conn.list_tables().await.expect("list"), ["b"]);
    assert!(matches!(
        conn.open_table("a").await,
        Err(TableError::NoSuchTable(_))
    ));
    conn.create_table("a", schema(), &spec())
        .await
        .expect("re-create after drop");

    // A batch of the wrong schema commits nothing.
    let t = conn.open_table("b").await.expect("open");
    let wrong = arrow::array::RecordBatch::try_new(
        std::sync::Arc::new(arrow::datatypes::Schema::new(vec![
            arrow::datatypes::Field::new("id", arrow::datatypes::DataType::Utf8, false),
        ])),
        vec![std::sync::Arc::new(arrow::array::StringArray::from(vec![
            "1",
        ]))],
    )
    .expect("batch");
    let err = t
        .append(&[batch(0, &bodies(5, 1)), wrong])
        .await
        .expect_err("wrong type");
    assert!(err.to_string().contains("`id`"), "names the column: {err}");
    assert_eq!(
        conn.open_table("b").await.expect("open").version(),
        0,
        "nothing committed"
    );
}
