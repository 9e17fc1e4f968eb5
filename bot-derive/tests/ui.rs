//! Compile-fail UI tests of `#[derive(CustomResource)]`: every misuse of
//! `#[kube(...)]` / `#[genclient(...)]` is a compile error at the offending
//! key, naming the key and the fix. One theme per file in `tests/ui/`.
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
