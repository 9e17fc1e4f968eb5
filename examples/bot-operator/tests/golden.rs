//! `manifests/crds.yaml` is what `bot-operator --print-crds` prints now
//! (`BLESS=1 cargo test -p bot-operator --test golden` regenerates it).

#[test]
fn golden_crds_yaml() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests/crds.yaml");
    let current = bot_operator::crds_yaml().expect("CRDs serialize");
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&path, &current).expect("write crds.yaml");
        return;
    }
    let stored = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        stored == current,
        "{} is out of date: re-bless with `BLESS=1 cargo test -p bot-operator --test golden`",
        path.display()
    );
}
