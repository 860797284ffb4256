//! Small, self-contained codecs: bit packing, LEB128 varints and the
//! one-byte document-length norm.

pub(crate) mod bitpack;
pub(crate) mod norm;
pub(crate) mod varint;
