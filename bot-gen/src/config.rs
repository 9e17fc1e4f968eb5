//! The build.rs builder: which sources to read, where to write.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use crate::{
    Error, Result,
    emit::{self, Resource, TypeTable},
    model::{ResourceModel, parse_resource},
};

/// File name of the generated code in the output directory.
pub const OUTPUT_FILE: &str = "bot_gen.rs";

/// Configures and runs the generator. Expected to be unwrapped in a build.rs:
///
/// ```no_run
/// // build.rs: fn main() {
/// bot_gen::Config::new().input("src/v1alpha1.rs").generate().unwrap();
/// // }
/// ```
///
/// and the generated code is pulled into a module with one line:
///
/// ```text
/// bot_runtime::include_generated!();
/// ```
#[derive(Debug, Clone, Default)]
pub struct Config {
    inputs: Vec<(PathBuf, Option<String>)>,
    out_dir: Option<PathBuf>,
    crate_root: Option<PathBuf>,
    group_names: BTreeMap<String, String>,
    runtime_path: Option<String>,
    emit_rerun: Option<bool>,
}

/// What [`Config::generate`] did.
#[derive(Debug, Clone)]
pub struct Generated {
    /// The generated file.
    pub path: PathBuf,
    /// Whether it changed (and so was rewritten).
    pub changed: bool,
    /// `group/version/Kind` of every resource, in output order.
    pub kinds: Vec<String>,
}

impl Config {
    /// A configuration with the defaults: no inputs, output to `OUT_DIR`,
    /// crate root `src` (relative to `CARGO_MANIFEST_DIR` when set), Rust
    /// group names from the first label of each API group, runtime crate
    /// `::bot_runtime`, `cargo:rerun-if-changed` lines when run by cargo.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an input: a `.rs` file, or a directory searched recursively for
    /// them. Types are referred to by the module path their file has under
    /// the crate root (`src/apis/v1.rs` -> `crate::apis::v1`).
    pub fn input(&mut self, path: impl AsRef<Path>) -> &mut Self {
        self.inputs.push((path.as_ref().to_path_buf(), None));
        self
    }

    /// Adds an input file whose types live at `module` (e.g. `crate::api`),
    /// for files included with `#[path]` or outside the crate root.
    pub fn input_with_module(&mut self, path: impl AsRef<Path>, module: impl Into<String>) -> &mut Self {
        self.inputs.push((path.as_ref().to_path_buf(), Some(module.into())));
        self
    }

    /// Where to write [`OUTPUT_FILE`]. Default: `$OUT_DIR`.
    pub fn out_dir(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.out_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// The crate's source root, for module paths. Default: `src`.
    pub fn crate_root(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.crate_root = Some(dir.as_ref().to_path_buf());
        self
    }

    /// The Rust name of an API group in accessors (client-gen's
    /// `+groupGoName`): `group_name("botops.dev", "botops")` gives
    /// `botops_v1alpha1()` and `factory.botops()`. Default: the group's first
    /// DNS label; two groups with the same first label need this.
    pub fn group_name(&mut self, group: impl Into<String>, name: impl Into<String>) -> &mut Self {
        self.group_names.insert(group.into(), name.into());
        self
    }

    /// Path of the runtime crate in generated code. Default: `::bot_runtime`.
    pub fn runtime_path(&mut self, path: impl Into<String>) -> &mut Self {
        self.runtime_path = Some(path.into());
        self
    }

    /// Whether to print `cargo:rerun-if-changed` for each input. Default:
    /// when running under cargo (`CARGO_MANIFEST_DIR` set).
    pub fn emit_rerun_if_changed(&mut self, on: bool) -> &mut Self {
        self.emit_rerun = Some(on);
        self
    }

    fn manifest_dir() -> Option<PathBuf> {
        std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from)
    }

    fn resolve(&self, p: &Path) -> PathBuf {
        match Self::manifest_dir() {
            Some(m) if p.is_relative() => m.join(p),
            _ => p.to_path_buf(),
        }
    }

    /// Reads every input and returns the resources, sorted by group,
    /// version and kind.
    pub fn load(&self) -> Result<Vec<Resource>> {
        self.load_with_types().map(|(resources, _)| resources)
    }

    /// [`load`](Self::load), with every struct and enum of the inputs (for
    /// the apply configurations of the types specs and statuses use).
    fn load_with_types(&self) -> Result<(Vec<Resource>, TypeTable)> {
        let rerun = self.emit_rerun.unwrap_or_else(|| Self::manifest_dir().is_some());
        let root = self.resolve(self.crate_root.as_deref().unwrap_or(Path::new("src")));
        let mut files = Vec::new();
        for (input, module) in &self.inputs {
            let input = self.resolve(input);
            if rerun {
                println!("cargo:rerun-if-changed={}", input.display());
            }
            if input.is_dir() {
                let mut found = Vec::new();
                walk(&input, &mut found)?;
                found.sort();
                files.extend(found.into_iter().map(|f| (f, module.clone())));
            } else {
                files.push((input, module.clone()));
            }
        }
        let mut resources = Vec::new();
        let mut types = TypeTable::default();
        for (file, module) in files {
            let module = match module {
                Some(m) => m,
                None => module_path(&root, &file)?,
            };
            if syn::parse_str::<syn::Path>(&module).is_err() {
                return Err(Error::Conflict(format!(
                    "{} maps to module `{module}`, which is not a Rust path (a keyword file name?); \
                     use Config::input_with_module to say which module it is",
                    file.display()
                )));
            }
            resources.extend(load_file(&file, &module, &mut types)?);
        }
        resources.sort_by(|a, b| {
            (&a.model.group, &a.model.version, &a.model.kind).cmp(&(&b.model.group, &b.model.version, &b.model.kind))
        });
        for pair in resources.windows(2) {
            let (a, b) = (&pair[0].model, &pair[1].model);
            if (&a.group, &a.version, &a.kind) == (&b.group, &b.version, &b.kind) {
                return Err(Error::Conflict(format!(
                    "{}/{} kind {} is declared twice ({} and {})",
                    a.group, a.version, a.kind, pair[0].path, pair[1].path
                )));
            }
        }
        Ok((resources, types))
    }

    /// Generates the code as a string (formatted, `@generated`).
    pub fn render(&self) -> Result<String> {
        let (resources, types) = self.load_with_types()?;
        self.render_resources(&resources, &types)
    }

    fn render_resources(&self, resources: &[Resource], types: &TypeTable) -> Result<String> {
        let runtime = self.runtime_path.clone().unwrap_or_else(|| "::bot_runtime".into());
        emit::render(resources, types, &self.group_names, &runtime)
    }

    /// Generates and writes `OUT_DIR/bot_gen.rs`, only if its content changed.
    pub fn generate(&self) -> Result<Generated> {
        let out_dir = match &self.out_dir {
            Some(d) => self.resolve(d),
            None => std::env::var_os("OUT_DIR").map(PathBuf::from).ok_or(Error::NoOutDir)?,
        };
        let (resources, types) = self.load_with_types()?;
        let kinds = resources.iter().map(|r| format!("{}/{}", r.model.api_version(), r.model.kind)).collect();
        let code = self.render_resources(&resources, &types)?;
        std::fs::create_dir_all(&out_dir).map_err(|source| Error::Io { path: out_dir.clone(), source })?;
        let path = out_dir.join(OUTPUT_FILE);
        let changed = std::fs::read_to_string(&path).map(|old| old != code).unwrap_or(true);
        if changed {
            std::fs::write(&path, code).map_err(|source| Error::Io { path: path.clone(), source })?;
        }
        Ok(Generated { path, changed, kinds })
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Io { path: dir.to_path_buf(), source })?;
    for entry in entries {
        let path = entry.map_err(|source| Error::Io { path: dir.to_path_buf(), source })?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// `src/apis/v1.rs` -> `crate::apis::v1`; `mod.rs` and `lib.rs` name their directory.
fn module_path(root: &Path, file: &Path) -> Result<String> {
    let rel = file.strip_prefix(root).map_err(|_| {
        Error::Conflict(format!(
            "{} is outside the crate root {}; use Config::input_with_module to say which module it is",
            file.display(),
            root.display()
        ))
    })?;
    let mut parts = vec!["crate".to_string()];
    let comps: Vec<String> = rel.with_extension("").iter().map(|c| c.to_string_lossy().into_owned()).collect();
    for (i, c) in comps.iter().enumerate() {
        let last = i + 1 == comps.len();
        if last && (c == "mod" || ((c == "lib" || c == "main") && i == 0)) {
            continue;
        }
        parts.push(c.clone());
    }
    Ok(parts.join("::"))
}

fn load_file(path: &Path, module: &str, types: &mut TypeTable) -> Result<Vec<Resource>> {
    let src = std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    let file = syn::parse_file(&src).map_err(|e| {
        let start = e.span().start();
        Error::Syntax { path: path.to_path_buf(), line: start.line, column: start.column + 1, message: e.to_string() }
    })?;
    types.add(&file.items, module);
    let mut out = Vec::new();
    collect(&file.items, path, module, &mut out)?;
    Ok(out)
}

fn derives_custom_resource(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().filter(|a| a.path().is_ident("derive")).any(|a| {
        let mut found = false;
        let _ = a.parse_nested_meta(|m| {
            if m.path.segments.last().is_some_and(|s| s.ident == "CustomResource") {
                found = true;
            }
            Ok(())
        });
        found
    })
}

fn collect(items: &[syn::Item], path: &Path, module: &str, out: &mut Vec<Resource>) -> Result<()> {
    for item in items {
        match item {
            syn::Item::Struct(syn::ItemStruct { attrs, .. }) | syn::Item::Enum(syn::ItemEnum { attrs, .. })
                if derives_custom_resource(attrs) =>
            {
                let input: syn::DeriveInput = match item {
                    syn::Item::Struct(s) => s.clone().into(),
                    syn::Item::Enum(e) => e.clone().into(),
                    _ => unreachable!("matched a struct or an enum"),
                };
                let model: ResourceModel = parse_resource(&input).map_err(|e| {
                    let start = e.span().start();
                    Error::Attribute {
                        path: path.to_path_buf(),
                        line: start.line,
                        column: start.column + 1,
                        message: e.into_iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "),
                    }
                })?;
                out.push(Resource { model, module: module.to_string(), path: path.display().to_string() });
            }
            // Inline modules: `mod v1 { ... }` inside the file.
            syn::Item::Mod(m) => {
                if let Some((_, items)) = &m.content {
                    collect(items, path, &format!("{module}::{}", m.ident), out)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_paths() {
        let root = Path::new("/c/src");
        assert_eq!(module_path(root, Path::new("/c/src/lib.rs")).unwrap(), "crate");
        assert_eq!(module_path(root, Path::new("/c/src/v1alpha1.rs")).unwrap(), "crate::v1alpha1");
        assert_eq!(module_path(root, Path::new("/c/src/apis/v1/mod.rs")).unwrap(), "crate::apis::v1");
        assert!(module_path(root, Path::new("/elsewhere/x.rs")).is_err());
    }
}
