//! Verbs that `#[genclient]` removes do not exist on the generated clients:
//! calling one is a compile error.
//!
//! Re-bless the expected compiler output after an intended change with
//! `TRYBUILD=overwrite cargo test -p bot-tests --test ui_verbs` (or `make bless`).

#[test]
fn removed_verbs_do_not_compile() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
