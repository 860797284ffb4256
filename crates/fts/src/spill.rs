//! Spilling accumulated postings to temporary files, so a builder's memory
//! for postings stays under a budget however large its input.
//!
//! A term's accumulator is an append-only byte stream whose next bytes
//! depend only on a few numbers of running state (the previous document,
//! position and end offset), which stay in memory. A spill writes every
//! non-empty stream, in term byte order, to a new anonymous temporary file
//! and empties them. `finish` visits terms in byte order too, so it reads
//! each spill file front to back: a term's stream is its chunks, spill by
//! spill, followed by what is still in memory — the bytes it would have
//! had without spilling, so the region is byte-identical.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};

use crate::accumulate::TermPostings;
use crate::error::{FtsError, Result};

/// One spill: a temporary file of streams back to back.
struct Run {
    file: BufReader<File>,
    /// `(term id, length)` of each stream in the file, in file order.
    chunks: Vec<(u32, u32)>,
    /// The next chunk to read.
    next: usize,
}

/// The spills of one builder, read back in step at `finish`.
#[derive(Default)]
pub(crate) struct Spills {
    runs: Vec<Run>,
}

fn failed(source: std::io::Error) -> FtsError {
    FtsError::Spill { source }
}

impl Spills {
    /// Writes the non-empty streams of `postings`, in the term order
    /// `order` (ids in byte order), to a new temporary file, then empties
    /// them. Returns the bytes moved out of memory. On error nothing is
    /// emptied.
    pub(crate) fn spill(&mut self, order: &[u32], postings: &mut [TermPostings]) -> Result<usize> {
        let mut out = BufWriter::new(tempfile::tempfile().map_err(failed)?);
        let mut chunks = Vec::new();
        let mut moved = 0usize;
        for &id in order {
            let stream = postings[id as usize].stream();
            if stream.is_empty() {
                continue;
            }
            let len = u32::try_from(stream.len()).map_err(|_| FtsError::TooLarge {
                what: "one term's spilled stream over u32::MAX bytes",
            })?;
            out.write_all(stream).map_err(failed)?;
            chunks.push((id, len));
            moved += stream.len();
        }
        let mut file = out.into_inner().map_err(|e| failed(e.into_error()))?;
        file.seek(SeekFrom::Start(0)).map_err(failed)?;
        for &(id, _) in &chunks {
            postings[id as usize].release_stream();
        }
        self.runs.push(Run {
            file: BufReader::with_capacity(1 << 16, file),
            chunks,
            next: 0,
        });
        Ok(moved)
    }

    /// Appends term `id`'s spilled chunks to `out`, in spill order. Terms
    /// must be asked for in the byte order the spills were written in.
    pub(crate) fn take_into(&mut self, id: u32, out: &mut Vec<u8>) -> Result<()> {
        for run in &mut self.runs {
            let Some(&(term, len)) = run.chunks.get(run.next) else {
                continue;
            };
            if term != id {
                continue;
            }
            run.next += 1;
            let at = out.len();
            out.resize(at + len as usize, 0);
            run.file.read_exact(&mut out[at..]).map_err(failed)?;
        }
        Ok(())
    }
}
