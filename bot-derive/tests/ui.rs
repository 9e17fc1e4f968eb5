//! Compile-fail UI tests of `#[derive(CustomResource)]`, grouped so the
//! suite compiles three crates, not one per case:
//!
//! - `ui/errors.rs`: every misuse that is a compile error at the offending
//!   key, one theme per file in `ui/errors/` (each a module of the crate);
//! - `ui/warnings.rs`: what kube-derive accepts but cannot work as written
//!   (a path the spec lacks, a scale without status, ...), a warning at the
//!   key, made an error there by `#![deny(deprecated)]`; one theme per file
//!   in `ui/warnings/`;
//! - `ui/no_cascade_after_error.rs`: an attribute error is the only error
//!   (its own crate, as the type checker must run for it to mean anything).
//!
//! After an intended change to a message, re-bless the expected output with
//!
//! ```text
//! TRYBUILD=overwrite cargo test -p bot-derive --test ui
//! ```
//!
//! and review the `.stderr` diffs before committing.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
