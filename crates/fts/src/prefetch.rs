//! A cache prefetch hint, for the builder's passes that touch one
//! scattered structure per token or term and would otherwise wait on each
//! miss in turn.

/// Starts loading the cache line at `at` (a hint: no effect on results,
/// none where the target has no such instruction).
pub(crate) fn prefetch<T>(at: *const T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: a prefetch reads nothing architecturally and cannot
        // fault, whatever the address; SSE is part of every x86-64.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(at.cast::<i8>()) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = at;
}
