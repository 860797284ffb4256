//! A tour of the storage layer: `cargo run -p infino-store --example store_tour [URI]`.
//!
//! Without an argument it uses `memory://`; give a directory or an `s3://`
//! URI (with `AWS_*`-style options set in code) to try another backend.

#![expect(clippy::print_stdout, reason = "an example prints what it does")]

use infino_store::{Path, Store, StoreError};

#[tokio::main]
async fn main() -> Result<(), StoreError> {
    let uri = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "memory://tour".to_owned());
    let store = Store::open(&uri)?;
    println!("opened {uri} ({})", store.kind().name());

    let data = Path::from("tour/data.bin");
    let body: Vec<u8> = (0..=255u8).cycle().take(1 << 20).collect();
    store.put(&data, body.into()).await?;
    let tail = store.get_suffix(&data, 8).await?;
    println!(
        "object is {} bytes; last 8: {:?}",
        tail.object_size,
        &tail.bytes[..]
    );
    let parts = store
        .get_ranges(&data, &[0..4, 1000..1004, 500_000..500_004])
        .await?;
    println!(
        "three ranges, one request: {:?}",
        parts.iter().map(|b| b.to_vec()).collect::<Vec<_>>()
    );

    let manifest = Path::from("tour/_versions/1.manifest");
    store.delete(&manifest).await?;
    store
        .create_if_absent(&manifest, "commit by writer A".into())
        .await?;
    match store
        .create_if_absent(&manifest, "commit by writer B".into())
        .await
    {
        Err(StoreError::AlreadyExists { .. }) => {
            println!("writer B lost the race for version 1, as it should")
        }
        other => println!("unexpected: {other:?}"),
    }
    let missing = store.get_range(&data, 2_000_000..2_000_010).await;
    println!(
        "range past the end: {}",
        missing.err().map(|e| e.to_string()).unwrap_or_default()
    );
    println!("I/O so far: {}", store.stats());
    Ok(())
}
