//! Small, self-contained codecs: bit packing (sequential, and in four lanes
//! for full blocks), a block's document sums and search, grouped value
//! runs, LEB128 varints, the one-byte document-length norm and `(tf, norm)`
//! score bounds.

pub(crate) mod bitpack;
pub(crate) mod bound;
pub(crate) mod docs;
pub(crate) mod groups;
pub(crate) mod lanes;
pub(crate) mod norm;
pub(crate) mod varint;
