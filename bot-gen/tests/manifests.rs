//! The manifest generator as a library: RBAC from `#[rbac(...)]` markers
//! (merged, minimal, exact output), CRD files, writing only what changed,
//! and `check` naming stale files.

use std::path::{Path, PathBuf};

use bot_gen::manifests::{Error, HEADER, Manifests};

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("bot-gen-manifests-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.0.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const OPERATOR: &str = r#"
use bot_derive::rbac;

#[rbac(groups = "example.com", resources = ["widgets", "gadgets"], verbs = ["list", "watch"])]
pub async fn run() {
    #[rbac(groups = "coordination.k8s.io", resources = "leases", verbs = "create", namespace = "ops")]
    #[rbac(groups = "coordination.k8s.io", resources = "leases", verbs = ["get", "update"],
           resource_names = "op", namespace = "ops")]
    fn elect() {}
}

mod children {
    #[bot_derive::rbac(groups = "apps", resources = "deployments", verbs = ["get", "create", "patch"])]
    pub(crate) async fn apply() {}

    #[rbac(groups = "apps", resources = "deployments", verbs = ["list", "watch"])]
    const INFORMERS: () = ();

    impl Thing {
        #[rbac(groups = "example.com", resources = "widgets/status", verbs = "patch")]
        fn write_status(&self) {}
    }
}
"#;

const EXPECTED_RBAC: &str = "\
# From the #[rbac(...)] markers of the operator's code.
---
apiVersion: v1
kind: Namespace
metadata:
  name: ops
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: op
  namespace: ops
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: op
rules:
- apiGroups:
  - apps
  resources:
  - deployments
  verbs:
  - create
  - get
  - list
  - patch
  - watch
- apiGroups:
  - example.com
  resources:
  - gadgets
  - widgets
  verbs:
  - list
  - watch
- apiGroups:
  - example.com
  resources:
  - widgets/status
  verbs:
  - patch
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: op
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: op
subjects:
- kind: ServiceAccount
  name: op
  namespace: ops
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: op
  namespace: ops
rules:
- apiGroups:
  - coordination.k8s.io
  resources:
  - leases
  verbs:
  - create
- apiGroups:
  - coordination.k8s.io
  resources:
  - leases
  resourceNames:
  - op
  verbs:
  - get
  - update
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: op
  namespace: ops
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: op
subjects:
- kind: ServiceAccount
  name: op
  namespace: ops
";

fn crd(plural: &str) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": { "name": format!("{plural}.example.com") },
        "spec": { "group": "example.com", "names": { "plural": plural, "kind": "Widget" }, "scope": "Namespaced" },
    })
}

fn operator(dir: &TempDir) -> Manifests {
    operator_with(dir, &["widgets", "gadgets"])
}

fn operator_with(dir: &TempDir, plurals: &[&str]) -> Manifests {
    if !dir.0.join("src/lib.rs").exists() {
        dir.write("src/lib.rs", OPERATOR);
    }
    let mut m = Manifests::new();
    m.base_dir(&dir.0)
        .emit_rerun_if_changed(false)
        .crds(plurals.iter().map(|p| crd(p)))
        .rbac_input("src")
        .role_name("op")
        .service_account("ops", "op")
        .create_namespaces(true)
        .out_dir("out");
    m
}

#[test]
fn rbac_from_markers_is_merged_and_exact() {
    let dir = TempDir::new("exact");
    let files = operator(&dir).render().unwrap();
    let paths: Vec<&Path> = files.iter().map(|f| f.path.as_path()).collect();
    assert_eq!(
        paths,
        [
            Path::new("crds/example.com_gadgets.yaml"),
            Path::new("crds/example.com_widgets.yaml"),
            Path::new("rbac.yaml")
        ]
    );
    assert_eq!(files[2].contents, format!("{HEADER}{EXPECTED_RBAC}"));
    assert!(files[0].contents.starts_with(HEADER));
    assert!(files[0].contents.contains("\nkind: CustomResourceDefinition\n"));
}

#[test]
fn markers_are_found_everywhere_with_their_lines() {
    let dir = TempDir::new("lines");
    let markers = operator(&dir).markers().unwrap();
    let lines: Vec<usize> = markers.iter().map(|m| m.line).collect();
    assert_eq!(lines, [4, 6, 7, 13, 16, 20]);
    assert!(markers.iter().all(|m| m.path.ends_with("src/lib.rs")));
}

#[test]
fn write_rewrites_only_what_changed_and_check_names_stale_files() {
    let dir = TempDir::new("write");
    let first = operator(&dir).write().unwrap();
    assert_eq!(first.changed.len(), 3);
    operator(&dir).check().unwrap();
    let rbac = dir.0.join("out/rbac.yaml");
    let mtime = std::fs::metadata(&rbac).unwrap().modified().unwrap();
    let second = operator(&dir).write().unwrap();
    assert!(second.changed.is_empty() && second.removed.is_empty(), "{second:?}");
    assert_eq!(std::fs::metadata(&rbac).unwrap().modified().unwrap(), mtime);

    // A marker edit makes rbac.yaml stale; a CRD dropped leaves a leftover.
    dir.write("src/extra.rs", r#"#[rbac(groups = "", resources = "secrets", verbs = "list")] fn f() {}"#);
    let err = operator_with(&dir, &["widgets"]).check().unwrap_err();
    let Error::Stale(stale) = &err else { panic!("{err}") };
    assert_eq!(stale.len(), 2, "{stale:?}");
    assert!(stale[0].ends_with("rbac.yaml differs from line 21"), "{stale:?}");
    assert!(stale[1].ends_with("example.com_gadgets.yaml is no longer generated"), "{stale:?}");

    let third = operator_with(&dir, &["widgets"]).write().unwrap();
    assert_eq!(third.changed, std::slice::from_ref(&rbac));
    assert_eq!(third.removed, [dir.0.join("out/crds/example.com_gadgets.yaml")]);
    operator_with(&dir, &["widgets"]).check().unwrap();
    std::fs::remove_file(&rbac).unwrap();
    let err = operator_with(&dir, &["widgets"]).check().unwrap_err().to_string();
    assert!(err.contains("rbac.yaml is missing"), "{err}");
}

#[test]
fn marker_errors_name_file_and_line() {
    let dir = TempDir::new("errors");
    dir.write(
        "src/lib.rs",
        "\n\n#[rbac(groups = \"apps\", resources = \"deployments\", verbs = [\"gett\"])]\nfn f() {}\n",
    );
    let err = operator(&dir).render().unwrap_err().to_string();
    assert!(err.contains("lib.rs:3:"), "{err}");
    assert!(err.contains("unknown verb `gett`; did you mean `get`?"), "{err}");
}

#[test]
fn options_are_checked() {
    let dir = TempDir::new("options");
    dir.write("src/lib.rs", "fn nothing_marked() {}\n");
    let err = operator(&dir).render().unwrap_err().to_string();
    assert!(err.contains("no #[rbac(...)] marker in src"), "{err}");

    dir.write("src/lib.rs", OPERATOR);
    let mut unnamed = Manifests::new();
    unnamed.base_dir(&dir.0).rbac_input("src");
    let err = unnamed.render().unwrap_err().to_string();
    assert!(err.contains("call Manifests::role_name"), "{err}");

    let err = Manifests::new().render().unwrap_err().to_string();
    assert!(err.contains("nothing to generate"), "{err}");

    let mut twice = Manifests::new();
    twice.crds([crd("widgets"), crd("widgets")]);
    let err = twice.render().unwrap_err().to_string();
    assert!(err.contains("`widgets.example.com` is given twice"), "{err}");

    let err = Manifests::new().crd(&serde_json::json!({"kind": "Pod"})).render().unwrap_err().to_string();
    assert!(err.contains("expected a CustomResourceDefinition, found kind `Pod`"), "{err}");
}

/// Roles only (no service account): no binding, no namespace.
#[test]
fn roles_alone() {
    let dir = TempDir::new("alone");
    dir.write("src/lib.rs", OPERATOR);
    let mut m = Manifests::new();
    m.base_dir(&dir.0).rbac_input("src/lib.rs").role_name("op");
    let files = m.render().unwrap();
    let kinds: Vec<&str> = files[0].contents.lines().filter_map(|l| l.strip_prefix("kind: ")).collect();
    assert_eq!(kinds, ["ClusterRole", "Role"]);
}
