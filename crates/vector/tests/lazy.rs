//! The lazy path: open the prefix, plan, fetch only planned clusters, and
//! get the same answers as the whole-region index.

use bytes::Bytes;
use infino_vector::{
    BuildParams, ClusterFn, HEADER_PREFIX, IndexHeader, Metric, SearchOptions, VectorError,
};
use roaring::RoaringBitmap;

use crate::common::{blobs, build, queries};

#[test]
fn planned_clusters_give_the_same_answer() {
    let (n, dim) = (5000, 16);
    let data = blobs(n, dim, 30, 31);
    let index = build(&data, dim, Metric::Cosine, BuildParams::default());
    let region: Bytes = (0..index.lists())
        .map(|c| index.cluster_bytes(c))
        .fold(Vec::new(), |mut v, b| {
            v.extend_from_slice(&b);
            v
        })
        .into();
    let prefix_len = index.data_offset();
    let header_bytes = {
        // Rebuild the prefix the way a lazy reader would: the fixed header
        // first, then the length it announces.
        let full = crate::common::region_bytes(&data, dim, Metric::Cosine);
        assert_eq!(
            IndexHeader::prefix_len(&full[..HEADER_PREFIX]).expect("len"),
            prefix_len
        );
        full[..prefix_len as usize].to_vec()
    };
    let header = IndexHeader::open(&header_bytes).expect("open prefix");
    let fetch = |c: usize| -> Bytes {
        let r = header.cluster_range(c);
        region.slice((r.start - prefix_len) as usize..(r.end - prefix_len) as usize)
    };
    for q in &queries(&data, dim, 10, 32) {
        let opts = SearchOptions::new(10);
        let plan = header.plan(q, &opts, None).expect("plan");
        assert!(
            !plan.is_empty() && plan.len() < header.lists(),
            "probes a subset"
        );
        let fetched: Vec<(usize, Bytes)> = plan.iter().map(|&c| (c, fetch(c))).collect();
        let lazy = header
            .search_clusters(q, &opts, None, fetched.as_slice(), None)
            .expect("lazy");
        assert_eq!(lazy, index.search(q, &opts).expect("whole"));

        let allowed: RoaringBitmap = (0..n as u32).step_by(3).collect();
        let source = ClusterFn(|c: usize| Ok(Some(fetch(c))));
        let lazy = header
            .search_clusters(q, &opts, Some(&allowed), &source, None)
            .expect("lazy filtered");
        assert_eq!(
            lazy,
            index
                .search_filtered(q, &opts, &allowed)
                .expect("whole filtered")
        );

        let empty: Vec<(usize, Bytes)> = Vec::new();
        assert!(matches!(
            header.search_clusters(q, &opts, None, empty.as_slice(), None),
            Err(VectorError::MissingCluster { .. })
        ));
        let wrong = vec![(plan[0], Bytes::from_static(b"short"))];
        assert!(
            header
                .search_clusters(q, &opts, None, wrong.as_slice(), None)
                .is_err()
        );
    }
}
