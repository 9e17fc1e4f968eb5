//! `#[bot_derive::rbac(...)]`: the item is unchanged wherever the marker
//! goes (`rbac/markers.rs` compiles and runs), and a bad marker is a compile
//! error at the offending key (`rbac/errors.rs`). Re-bless the expected
//! errors with `TRYBUILD=overwrite cargo test -p bot-derive --test rbac`.

#[test]
fn rbac_markers() {
    let t = trybuild::TestCases::new();
    t.pass("tests/rbac/markers.rs");
    t.compile_fail("tests/rbac/errors.rs");
}
