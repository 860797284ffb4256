//! Damaged bytes give typed errors: never a panic, never a silently wrong file.

use infino_superfile::{OpenOptions, Superfile, SuperfileError};

use crate::common::{build, generated_docs, small_groups};

#[test]
fn any_flipped_byte_is_detected() {
    let file = build(&generated_docs(300, 5), &small_groups());
    let len = file.len();
    // Every byte of the last 4 KiB (regions' tail, footer, trailer) and a
    // stride through the rest, flipped one at a time.
    let positions = (0..len).filter(|&i| i + 4096 >= len || i % 7 == 0);
    let mut checked = 0;
    for i in positions {
        let mut bad = file.to_vec();
        bad[i] ^= 0x5a;
        let outcome =
            std::panic::catch_unwind(|| Superfile::open(bad.into(), OpenOptions::default()));
        match outcome {
            Ok(Err(_)) => checked += 1,
            Ok(Ok(_)) => panic!("flipping byte {i} of {len} went unnoticed"),
            Err(_) => panic!("flipping byte {i} of {len} panicked"),
        }
    }
    assert!(checked > 500, "checked {checked} positions");
}

#[test]
fn truncation_is_detected() {
    let file = build(&generated_docs(200, 6), &small_groups());
    for cut in (0..file.len()).step_by(13).chain([file.len() - 1]) {
        let outcome =
            std::panic::catch_unwind(|| Superfile::open(file.slice(..cut), OpenOptions::default()));
        assert!(
            matches!(outcome, Ok(Err(_))),
            "truncated to {cut} bytes: not a typed error"
        );
    }
}

#[test]
fn damage_names_the_part() {
    let file = build(&generated_docs(200, 7), &small_groups());
    let sf = Superfile::open(file.clone(), OpenOptions::default()).expect("open");
    let region = sf.directory().regions[0].clone();
    let mut bad = file.to_vec();
    bad[region.offset as usize + 10] ^= 1;
    let err = Superfile::open(bad.into(), OpenOptions::default()).expect_err("region flip");
    assert!(
        matches!(err, SuperfileError::Checksum { ref what, .. } if what.contains("body")),
        "{err}"
    );

    let mut bad = file.to_vec();
    bad[100] ^= 1;
    let err = Superfile::open(bad.into(), OpenOptions::default()).expect_err("data flip");
    assert!(
        matches!(err, SuperfileError::Checksum { ref what, .. } if what == "row groups"),
        "{err}"
    );

    // A plain Parquet file (no directory) is refused by name.
    let plain = {
        let batch = &crate::common::batches(&generated_docs(5, 1), 5)[0];
        let mut w =
            parquet::arrow::ArrowWriter::try_new(Vec::new(), batch.schema(), None).expect("w");
        w.write(batch).expect("write");
        w.into_inner().expect("close")
    };
    let err = Superfile::open(plain.into(), OpenOptions::default()).expect_err("plain parquet");
    assert!(err.to_string().contains("plain Parquet"), "{err}");
}
