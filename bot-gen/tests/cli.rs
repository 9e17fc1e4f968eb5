//! The `bot-gen` command: `generate` prints what the library renders (and
//! the form without a command still works), `manifests` writes what the
//! library writes and `--check` fails on stale files, help per command.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

fn bot_gen(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bot-gen")).args(args).output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn generate_prints_the_same_code_as_the_library() {
    let input = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/bot-api/src");
    let expected = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/botops.rs")).unwrap();
    for args in [
        &["generate", "--stdout", "--crate-root", input, input][..],
        // The invocation from before subcommands.
        &["--stdout", "--crate-root", input, input][..],
    ] {
        let out = bot_gen(args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        assert!(String::from_utf8(out.stdout).unwrap() == expected, "{args:?} differs from tests/golden/botops.rs");
    }
}

#[test]
fn usage_errors_and_help_per_command() {
    let bare = bot_gen(&[]);
    assert_eq!(bare.status.code(), Some(2));
    let text = stderr(&bare);
    assert!(
        text.contains("Usage: bot-gen <COMMAND>") && text.contains("generate") && text.contains("manifests"),
        "{text}"
    );

    let help = bot_gen(&["help", "manifests"]);
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    for flag in ["--out <DIR>", "--crds <FILE>", "--rbac-input <PATH>", "--role-name <NAME>", "--check"] {
        assert!(text.contains(flag), "{flag} missing from:\n{text}");
    }
    let help = bot_gen(&["generate", "--help"]);
    assert!(String::from_utf8_lossy(&help.stdout).contains("--group-name <GROUP=NAME>"));

    // generate needs an output; a malformed --group-name is refused by name.
    let out = bot_gen(&["generate", "src"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--out <DIR>|--stdout"), "{}", stderr(&out));
    let out = bot_gen(&["generate", "--stdout", "--group-name", "botops", "src"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("expected GROUP=NAME"), "{}", stderr(&out));
}

const CRDS: &str = "\
# what a --print-crds prints
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names:
    kind: Widget
    plural: widgets
  scope: Namespaced
";

const SRC: &str = r#"
#[rbac(groups = "example.com", resources = "widgets", verbs = ["list", "watch"])]
#[rbac(groups = "coordination.k8s.io", resources = "leases", verbs = "get", resource_names = "op", namespace = "ops")]
fn run() {}
"#;

#[test]
fn manifests_writes_what_the_library_writes_and_check_fails_when_stale() {
    let dir = std::env::temp_dir().join(format!("bot-gen-cli-manifests-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(dir.join("src/lib.rs"), SRC).unwrap();
    std::fs::write(dir.join("crds.yaml"), CRDS).unwrap();
    let path = |p: &str| dir.join(p).display().to_string();
    let (src, crds, out_dir) = (path("src"), path("crds.yaml"), path("out"));
    let args = [
        "manifests",
        "--crds",
        &crds,
        "--rbac-input",
        &src,
        "--role-name",
        "op",
        "--service-account",
        "ops/op",
        "--create-namespaces",
        "--out",
        &out_dir,
    ];
    let out = bot_gen(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("rbac.yaml (written)"), "{}", stderr(&out));

    let mut library = bot_gen::manifests::Manifests::new();
    library
        .crds_from_yaml(CRDS)
        .rbac_input(&src)
        .role_name("op")
        .service_account("ops", "op")
        .create_namespaces(true)
        .emit_rerun_if_changed(false);
    for file in library.render().unwrap() {
        let written = std::fs::read_to_string(Path::new(&out_dir).join(&file.path)).unwrap();
        assert!(written == file.contents, "{} differs from the library's", file.path.display());
    }
    let crd = std::fs::read_to_string(dir.join("out/crds/example.com_widgets.yaml")).unwrap();
    assert_eq!(crd, format!("{}{}", bot_gen::manifests::HEADER, CRDS.split_once("---\n").unwrap().1));

    let check: Vec<&str> = args.iter().copied().chain(["--check"]).collect();
    let out = bot_gen(&check);
    assert!(out.status.success(), "{}", stderr(&out));
    std::fs::write(dir.join("src/lib.rs"), SRC.replace("\"get\"", "[\"get\", \"update\"]")).unwrap();
    let out = bot_gen(&check);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("rbac.yaml differs from line"), "{}", stderr(&out));

    // Standard input; a marker error names the file and line.
    std::fs::write(dir.join("src/lib.rs"), "fn f() {}\n#[rbac(groups = \"\", resources = \"pods\")]\nfn g() {}\n")
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_bot-gen"))
        .args(["manifests", "--crds", "-", "--rbac-input", &src, "--role-name", "op", "--out", &out_dir])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), CRDS.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let lib_rs: PathBuf = dir.join("src/lib.rs");
    assert!(stderr(&out).contains(&format!("{}:2:", lib_rs.display())), "{}", stderr(&out));
    assert!(stderr(&out).contains("needs `verbs`"), "{}", stderr(&out));
    std::fs::remove_dir_all(&dir).unwrap();
}
