//! `bot-gen`: the generator as a command.
//!
//! ```text
//! bot-gen generate (--out DIR | --stdout) [--crate-root DIR] [--group-name GROUP=NAME]... INPUT...
//! bot-gen manifests --out DIR [--crds FILE]... [--rbac-input PATH]... [--role-name NAME]
//!                   [--service-account NAMESPACE/NAME] [--create-namespaces] [--check]
//! ```
//!
//! `bot-gen help <command>` describes each. The former form without a
//! command (`bot-gen --out DIR INPUT...`) still runs `generate`.

use std::{io::Read as _, path::PathBuf, process::ExitCode};

use clap::{Args, Parser, Subcommand};

/// Generates typed clients, listers and informers from #[derive(CustomResource)] structs, and the
/// CRD and RBAC manifests of an operator.
#[derive(Parser, Debug)]
#[command(name = "bot-gen", version, arg_required_else_help = true, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Writes the clientset, listers and informers (bot_gen.rs) of the #[derive(CustomResource)] structs in INPUT.
    #[command(arg_required_else_help = true)]
    Generate(Generate),
    /// Writes the CRDs (one YAML file each) and the RBAC roles from the #[rbac(...)] markers in the sources.
    #[command(arg_required_else_help = true)]
    Manifests(Manifests),
}

#[derive(Args, Debug)]
#[command(group = clap::ArgGroup::new("output").required(true).multiple(true).args(["out", "stdout"]))]
struct Generate {
    /// .rs files, or directories searched recursively for them.
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<PathBuf>,
    /// Writes DIR/bot_gen.rs (only if its content changed).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Prints the code instead of writing it (wins over --out).
    #[arg(long)]
    stdout: bool,
    /// The crate's source root: a file's module path is its path under it (default: src).
    #[arg(long, value_name = "DIR")]
    crate_root: Option<PathBuf>,
    /// The Rust name of an API group in accessors, e.g. botops.dev=botops (repeatable).
    #[arg(long, value_name = "GROUP=NAME", value_parser = group_name)]
    group_name: Vec<(String, String)>,
}

#[derive(Args, Debug)]
#[command(after_help = "Example:\n  my-operator --print-crds | bot-gen manifests --crds - --rbac-input src \\\n      \
    --role-name my-operator --service-account my-system/my-operator --out manifests")]
struct Manifests {
    /// The output directory: CRDs go to DIR/crds/<group>_<plural>.yaml, roles to DIR/rbac.yaml.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// A YAML or JSON stream of CRDs (`-` reads standard input), e.g. what a `--print-crds` prints (repeatable).
    #[arg(long, value_name = "FILE")]
    crds: Vec<PathBuf>,
    /// A .rs file, or a directory searched recursively, whose #[rbac(...)] markers make the roles (repeatable).
    #[arg(long, value_name = "PATH")]
    rbac_input: Vec<PathBuf>,
    /// Name of the ClusterRole, of the Role in each namespace and of their bindings.
    #[arg(long, value_name = "NAME")]
    role_name: Option<String>,
    /// Also writes this ServiceAccount and binds every role to it.
    #[arg(long, value_name = "NAMESPACE/NAME", value_parser = service_account)]
    service_account: Option<(String, String)>,
    /// Also writes the Namespaces of the service account and of the Roles.
    #[arg(long)]
    create_namespaces: bool,
    /// The CRDs' directory, relative to DIR.
    #[arg(long, value_name = "SUBDIR", default_value = "crds")]
    crd_dir: PathBuf,
    /// The roles' file, relative to DIR.
    #[arg(long, value_name = "FILE", default_value = "rbac.yaml")]
    rbac_file: PathBuf,
    /// Writes nothing; fails (exit 1) if the files in DIR are not what would be written.
    #[arg(long)]
    check: bool,
}

fn group_name(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((g, n)) if !g.is_empty() && !n.is_empty() => Ok((g.into(), n.into())),
        _ => Err("expected GROUP=NAME, e.g. botops.dev=botops".into()),
    }
}

fn service_account(s: &str) -> Result<(String, String), String> {
    match s.split_once('/') {
        Some((ns, n)) if !ns.is_empty() && !n.is_empty() && !n.contains('/') => Ok((ns.into(), n.into())),
        _ => Err("expected NAMESPACE/NAME, e.g. botops-system/bot-operator".into()),
    }
}

/// The arguments, with `generate` inserted when the first one is not a
/// command (the invocation from before subcommands).
fn arguments() -> Vec<std::ffi::OsString> {
    let mut args: Vec<_> = std::env::args_os().collect();
    let known = ["generate", "manifests", "help", "-h", "--help", "-V", "--version"];
    if let Some(first) = args.get(1)
        && !known.iter().any(|k| first == k)
    {
        args.insert(1, "generate".into());
    }
    args
}

fn main() -> ExitCode {
    let result = match Cli::parse_from(arguments()).command {
        Command::Generate(g) => generate(g),
        Command::Manifests(m) => manifests(m),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("bot-gen: {e}");
            ExitCode::FAILURE
        }
    }
}

fn generate(args: Generate) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let mut config = bot_gen::Config::new();
    config.emit_rerun_if_changed(false);
    for input in &args.inputs {
        config.input(input);
    }
    if let Some(root) = &args.crate_root {
        config.crate_root(root);
    }
    for (group, name) in args.group_name {
        config.group_name(group, name);
    }
    match &args.out {
        Some(out) if !args.stdout => {
            let generated = config.out_dir(out).generate()?;
            let state = if generated.changed { "written" } else { "unchanged" };
            eprintln!("bot-gen: {} ({state})", generated.path.display());
        }
        _ => print!("{}", config.render()?),
    }
    Ok(ExitCode::SUCCESS)
}

fn manifests(args: Manifests) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let mut manifests = bot_gen::manifests::Manifests::new();
    manifests.base_dir(std::env::current_dir()?).emit_rerun_if_changed(false);
    for file in &args.crds {
        let text = if file.as_os_str() == "-" {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text)?;
            text
        } else {
            std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?
        };
        manifests.crds_from_yaml(&text);
    }
    for input in &args.rbac_input {
        manifests.rbac_input(input);
    }
    if let Some(name) = &args.role_name {
        manifests.role_name(name);
    }
    if let Some((ns, name)) = &args.service_account {
        manifests.service_account(ns, name);
    }
    manifests.create_namespaces(args.create_namespaces).out_dir(&args.out).crd_dir(&args.crd_dir);
    manifests.rbac_file(&args.rbac_file);
    if args.check {
        manifests.check()?;
        eprintln!("bot-gen: {} is up to date", args.out.display());
        return Ok(ExitCode::SUCCESS);
    }
    let written = manifests.write()?;
    for path in &written.files {
        let state = if written.changed.contains(path) { "written" } else { "unchanged" };
        eprintln!("bot-gen: {} ({state})", path.display());
    }
    for path in &written.removed {
        eprintln!("bot-gen: {} (removed: no longer generated)", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
