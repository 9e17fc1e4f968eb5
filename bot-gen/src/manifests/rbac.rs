//! RBAC from markers: reads every `#[rbac(...)]` in the source files, merges
//! them into minimal rules and renders the ClusterRole, the Roles and
//! (optionally) the ServiceAccount and bindings.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

use serde::Serialize;
use syn::visit::Visit;

use super::{
    Error, Result,
    marker::{self, RbacMarker},
};

/// A marker and where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundMarker {
    /// What it grants.
    pub marker: RbacMarker,
    /// The file it is in.
    pub path: PathBuf,
    /// Its 1-based line.
    pub line: usize,
}

/// One RBAC policy rule, as it appears in a Role or ClusterRole.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    /// API groups (one per rule: rules are merged within a group only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub api_groups: Vec<String>,
    /// Resources, sorted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    /// Object names the rule is restricted to, sorted; empty: all.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resource_names: Vec<String>,
    /// Non-resource URLs, sorted.
    #[serde(rename = "nonResourceURLs", skip_serializing_if = "Vec::is_empty")]
    pub non_resource_urls: Vec<String>,
    /// Verbs, sorted.
    pub verbs: Vec<String>,
}

/// The merged rules: cluster-wide ones (the ClusterRole) and those of each
/// namespace (a Role there).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rbac {
    /// Rules of the ClusterRole.
    pub cluster: Vec<Rule>,
    /// Rules of the Role in each namespace.
    pub namespaced: BTreeMap<String, Vec<Rule>>,
}

/// Every marker in `files`, in file order then source order.
pub fn scan(files: &[PathBuf]) -> Result<Vec<FoundMarker>> {
    let mut found = Vec::new();
    for path in files {
        let src = std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.clone(), source })?;
        let file = syn::parse_file(&src).map_err(|e| {
            located(path, e, |path, line, column, message| Error::Syntax { path, line, column, message })
        })?;
        let mut visitor = Visitor { path, found: &mut found, error: None };
        visitor.visit_file(&file);
        if let Some(e) = visitor.error {
            return Err(e);
        }
    }
    Ok(found)
}

fn located(path: &Path, e: syn::Error, variant: fn(PathBuf, usize, usize, String) -> Error) -> Error {
    let start = e.span().start();
    let message = e.into_iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; ");
    variant(path.to_path_buf(), start.line, start.column + 1, message)
}

struct Visitor<'a> {
    path: &'a Path,
    found: &'a mut Vec<FoundMarker>,
    error: Option<Error>,
}

impl<'ast> Visit<'ast> for Visitor<'_> {
    fn visit_attribute(&mut self, attr: &'ast syn::Attribute) {
        if !marker::is_marker(attr) || self.error.is_some() {
            return;
        }
        match marker::parse_attribute(attr) {
            Ok(marker) => {
                let line = syn::spanned::Spanned::span(attr).start().line;
                self.found.push(FoundMarker { marker, path: self.path.to_path_buf(), line });
            }
            Err(e) => {
                let marker = |path, line, column, message| Error::Marker { path, line, column, message };
                self.error = Some(located(self.path, e, marker));
            }
        }
    }
}

/// Which objects of a (group, resource) a verb applies to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Names {
    /// Every object.
    All,
    /// Only these.
    Only(BTreeSet<String>),
}

impl Names {
    fn union(&mut self, other: Names) {
        match (&mut *self, other) {
            (Names::All, _) => {}
            (_, Names::All) => *self = Names::All,
            (Names::Only(mine), Names::Only(theirs)) => mine.extend(theirs),
        }
    }

    fn covers(&self, other: &Names) -> bool {
        match (self, other) {
            (Names::All, _) => true,
            (Names::Only(_), Names::All) => false,
            (Names::Only(mine), Names::Only(theirs)) => theirs.is_subset(mine),
        }
    }
}

/// (namespace, group, resource)
type Target = (Option<String>, String, String);

/// (namespace, group, names, verbs): the resources sharing them share a rule.
type Shared = (Option<String>, String, Names, BTreeSet<String>);

/// Merges markers into minimal rules: verbs of the same group, resource and
/// names are merged; a permission another one already grants (a named one
/// under an unrestricted one, any verb under `*`) is dropped; resources of
/// one group with the same verbs and names share a rule. Everything is
/// sorted, so the output depends only on the set of markers.
pub fn merge<'a>(markers: impl IntoIterator<Item = &'a RbacMarker>) -> Rbac {
    let mut grants: BTreeMap<Target, BTreeMap<String, Names>> = BTreeMap::new();
    let mut urls: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for m in markers {
        for url in &m.urls {
            urls.entry(url.clone()).or_default().extend(m.verbs.iter().cloned());
        }
        let names = if m.resource_names.is_empty() {
            Names::All
        } else {
            Names::Only(m.resource_names.iter().cloned().collect())
        };
        for group in &m.groups {
            for resource in &m.resources {
                let verbs = grants.entry((m.namespace.clone(), group.clone(), resource.clone())).or_default();
                for verb in &m.verbs {
                    verbs.entry(verb.clone()).or_insert_with(|| Names::Only(BTreeSet::new())).union(names.clone());
                }
            }
        }
    }
    let mut shared: BTreeMap<Shared, BTreeSet<String>> = BTreeMap::new();
    for ((ns, group, resource), verbs) in grants {
        let star = verbs.get("*").cloned();
        let mut by_names: BTreeMap<Names, BTreeSet<String>> = BTreeMap::new();
        for (verb, names) in verbs {
            if verb != "*" && star.as_ref().is_some_and(|s| s.covers(&names)) {
                continue;
            }
            by_names.entry(names).or_default().insert(verb);
        }
        for (names, verbs) in by_names {
            shared.entry((ns.clone(), group.clone(), names, verbs)).or_default().insert(resource.clone());
        }
    }
    let mut rbac = Rbac::default();
    for ((ns, group, names, verbs), resources) in shared {
        let rule = Rule {
            api_groups: vec![group],
            resources: resources.into_iter().collect(),
            resource_names: match names {
                Names::All => Vec::new(),
                Names::Only(n) => n.into_iter().collect(),
            },
            non_resource_urls: Vec::new(),
            verbs: verbs.into_iter().collect(),
        };
        match ns {
            None => rbac.cluster.push(rule),
            Some(ns) => rbac.namespaced.entry(ns).or_default().push(rule),
        }
    }
    let mut by_verbs: BTreeMap<BTreeSet<String>, Vec<String>> = BTreeMap::new();
    for (url, verbs) in urls {
        let verbs = if verbs.contains("*") { BTreeSet::from(["*".to_string()]) } else { verbs };
        by_verbs.entry(verbs).or_default().push(url);
    }
    rbac.cluster.extend(by_verbs.into_iter().map(|(verbs, urls)| Rule {
        api_groups: Vec::new(),
        resources: Vec::new(),
        resource_names: Vec::new(),
        non_resource_urls: urls,
        verbs: verbs.into_iter().collect(),
    }));
    rbac.cluster.sort();
    rbac.namespaced.values_mut().for_each(|rules| rules.sort());
    rbac
}

/// Who the roles are bound to, and what else to write beside them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Options {
    pub(crate) role_name: String,
    pub(crate) service_account: Option<(String, String)>,
    pub(crate) create_namespaces: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Meta<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Object<'a> {
    api_version: &'static str,
    kind: &'static str,
    metadata: Meta<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rules: Option<&'a [Rule]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    role_ref: Option<RoleRef<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subjects: Option<[Subject<'a>; 1]>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RoleRef<'a> {
    api_group: &'static str,
    kind: &'static str,
    name: &'a str,
}

#[derive(Serialize)]
struct Subject<'a> {
    kind: &'static str,
    name: &'a str,
    namespace: &'a str,
}

const RBAC_V1: &str = "rbac.authorization.k8s.io/v1";

impl<'a> Object<'a> {
    fn new(api_version: &'static str, kind: &'static str, name: &'a str, namespace: Option<&'a str>) -> Self {
        Self { api_version, kind, metadata: Meta { name, namespace }, rules: None, role_ref: None, subjects: None }
    }

    fn binding(
        kind: &'static str,
        role_kind: &'static str,
        name: &'a str,
        ns: Option<&'a str>,
        sa: &'a (String, String),
    ) -> Self {
        Self {
            role_ref: Some(RoleRef { api_group: "rbac.authorization.k8s.io", kind: role_kind, name }),
            subjects: Some([Subject { kind: "ServiceAccount", name: &sa.1, namespace: &sa.0 }]),
            ..Self::new(RBAC_V1, kind, name, ns)
        }
    }
}

/// The multi-document YAML of the roles (and, with a service account, the
/// account, its bindings and optionally the namespaces), after `header`.
pub(crate) fn render(rbac: &Rbac, options: &Options, header: &str) -> Result<String> {
    let name = options.role_name.as_str();
    let sa = options.service_account.as_ref();
    let mut docs = Vec::new();
    if options.create_namespaces {
        let namespaces: BTreeSet<&str> =
            sa.map(|(ns, _)| ns.as_str()).into_iter().chain(rbac.namespaced.keys().map(String::as_str)).collect();
        docs.extend(namespaces.into_iter().map(|ns| Object::new("v1", "Namespace", ns, None)));
    }
    if let Some((ns, account)) = sa {
        docs.push(Object::new("v1", "ServiceAccount", account, Some(ns)));
    }
    if !rbac.cluster.is_empty() {
        docs.push(Object { rules: Some(&rbac.cluster), ..Object::new(RBAC_V1, "ClusterRole", name, None) });
        if let Some(sa) = sa {
            docs.push(Object::binding("ClusterRoleBinding", "ClusterRole", name, None, sa));
        }
    }
    for (ns, rules) in &rbac.namespaced {
        docs.push(Object { rules: Some(rules), ..Object::new(RBAC_V1, "Role", name, Some(ns)) });
        if let Some(sa) = sa {
            docs.push(Object::binding("RoleBinding", "Role", name, Some(ns), sa));
        }
    }
    let mut out = header.to_string();
    for doc in docs {
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(&doc).map_err(|e| Error::Internal(e.to_string()))?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(groups: &[&str], resources: &[&str], verbs: &[&str]) -> RbacMarker {
        let v = |s: &[&str]| s.iter().map(|s| s.to_string()).collect();
        RbacMarker { groups: v(groups), resources: v(resources), verbs: v(verbs), ..Default::default() }
    }

    fn rule(group: &str, resources: &[&str], names: &[&str], verbs: &[&str]) -> Rule {
        let v = |s: &[&str]| s.iter().map(|s| s.to_string()).collect();
        Rule {
            api_groups: vec![group.into()],
            resources: v(resources),
            resource_names: v(names),
            non_resource_urls: Vec::new(),
            verbs: v(verbs),
        }
    }

    #[test]
    fn verbs_merge_and_resources_with_the_same_verbs_share_a_rule() {
        let markers = [
            m(&["apps"], &["deployments"], &["watch", "list"]),
            m(&[""], &["services", "configmaps"], &["list", "watch", "get"]),
            m(&["apps"], &["deployments"], &["get", "list"]),
            m(&[""], &["secrets"], &["list", "watch"]),
        ];
        let rbac = merge(&markers);
        assert_eq!(
            rbac.cluster,
            [
                rule("", &["configmaps", "services"], &[], &["get", "list", "watch"]),
                rule("", &["secrets"], &[], &["list", "watch"]),
                rule("apps", &["deployments"], &[], &["get", "list", "watch"]),
            ]
        );
        assert!(rbac.namespaced.is_empty());
    }

    #[test]
    fn the_order_of_markers_does_not_matter() {
        let mut markers = vec![
            m(&["a.io"], &["x"], &["get"]),
            m(&["a.io", "b.io"], &["y", "x"], &["list", "watch"]),
            m(&["b.io"], &["y"], &["*"]),
        ];
        let first = merge(&markers);
        markers.reverse();
        assert_eq!(merge(&markers), first);
    }

    #[test]
    fn names_and_namespaces_stay_apart_and_covered_grants_are_dropped() {
        let mut lease = m(&["coordination.k8s.io"], &["leases"], &["get", "update", "watch"]);
        lease.namespace = Some("ops".into());
        lease.resource_names = vec!["op".into()];
        let mut create = m(&["coordination.k8s.io"], &["leases"], &["create", "watch"]);
        create.namespace = Some("ops".into());
        let everything = m(&["x.io"], &["things"], &["*"]);
        let mut named = m(&["x.io"], &["things"], &["get"]);
        named.resource_names = vec!["one".into()];
        let rbac = merge([&lease, &create, &everything, &named]);
        assert_eq!(rbac.cluster, [rule("x.io", &["things"], &[], &["*"])]);
        assert_eq!(
            rbac.namespaced["ops"],
            [
                rule("coordination.k8s.io", &["leases"], &[], &["create", "watch"]),
                rule("coordination.k8s.io", &["leases"], &["op"], &["get", "update"]),
            ]
        );
    }

    #[test]
    fn urls_are_cluster_rules() {
        let metrics = RbacMarker { urls: vec!["/metrics".into()], verbs: vec!["get".into()], ..Default::default() };
        let health = RbacMarker { urls: vec!["/healthz".into()], verbs: vec!["get".into()], ..Default::default() };
        let rbac = merge([&metrics, &health]);
        assert_eq!(rbac.cluster.len(), 1);
        assert_eq!(rbac.cluster[0].non_resource_urls, ["/healthz", "/metrics"]);
    }
}
