//! An HTTP request as the fake API server understands it: which kind,
//! namespace, object and subresource, which verb, which parameters.

use std::collections::BTreeMap;

use http::{Method, request::Parts};
use serde_json::Value;

use super::{
    action::{Action, PatchType},
    kinds::Kind,
    status,
};

/// A parsed request.
#[derive(Debug)]
pub(crate) struct Call {
    /// The verb (`get`, `list`, `watch`, `create`, `update`, `patch`,
    /// `delete`, `deletecollection`).
    pub(crate) verb: &'static str,
    /// Index of the kind in the cluster's registry.
    pub(crate) kind: usize,
    /// The request's namespace (`None`: cluster-scoped, or all namespaces).
    pub(crate) namespace: Option<String>,
    /// The object's name.
    pub(crate) name: Option<String>,
    /// The subresource.
    pub(crate) subresource: Option<String>,
    /// Query parameters.
    pub(crate) query: BTreeMap<String, String>,
    /// The patch type of a PATCH.
    pub(crate) patch_type: Option<PatchType>,
    /// `Accept: ...;as=PartialObjectMetadata[List]`.
    pub(crate) metadata_only: bool,
    /// The default field manager (the User-Agent up to its first `/`).
    pub(crate) user_agent: String,
    /// The body, parsed as JSON (`None` when empty).
    pub(crate) body: Option<Value>,
}

impl Call {
    /// Parses `parts` and `body` against the registered kinds.
    pub(crate) fn parse(parts: &Parts, body: &[u8], kinds: &[Kind]) -> Result<Self, Box<kube::core::Status>> {
        let path = parts.uri.path().trim_matches('/');
        let segments: Vec<&str> = path.split('/').collect();
        let (group, version, rest) = match segments.as_slice() {
            ["api", version, rest @ ..] => ("", *version, rest),
            ["apis", group, version, rest @ ..] => (*group, *version, rest),
            _ => return status::fail(status::no_route()),
        };
        let find = |plural: &str| kinds.iter().position(|k| k.serves(group, version, plural));
        let namespaced = |plural: &str| find(plural).filter(|&i| kinds[i].namespaced);
        let (kind, namespace, tail) = match rest {
            ["namespaces", ns, plural, tail @ ..] if namespaced(plural).is_some() => {
                (namespaced(plural), Some(ns.to_string()), tail)
            }
            [plural, tail @ ..] => (find(plural), None, tail),
            [] => (None, None, &[][..]),
        };
        let kind = kind.ok_or_else(status::no_route)?;
        let (name, subresource) = match tail {
            [] => (None, None),
            [name] => (Some(name.to_string()), None),
            [name, sub] => (Some(name.to_string()), Some(sub.to_string())),
            _ => return status::fail(status::no_route()),
        };
        let query: BTreeMap<String, String> =
            form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes()).into_owned().collect();
        let header = |name: http::header::HeaderName| {
            parts.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
        };
        let watch = matches!(query.get("watch").map(String::as_str), Some("true" | "1"));
        let verb = match (&parts.method, name.is_some()) {
            (&Method::GET, true) => "get",
            (&Method::GET, false) if watch => "watch",
            (&Method::GET, false) => "list",
            (&Method::POST, false) => "create",
            (&Method::PUT, true) => "update",
            (&Method::PATCH, true) => "patch",
            (&Method::DELETE, true) => "delete",
            (&Method::DELETE, false) => "deletecollection",
            (method, _) => return status::fail(status::method_not_allowed(format!("{method} is not supported here"))),
        };
        let content_type = header(http::header::CONTENT_TYPE);
        let patch_type = (verb == "patch").then(|| match content_type.split(';').next().unwrap_or_default() {
            "application/json-patch+json" => Some(PatchType::Json),
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/strategic-merge-patch+json" => Some(PatchType::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+json" => Some(PatchType::Apply),
            _ => None,
        });
        let patch_type = match patch_type {
            Some(None) => return status::fail(status::unsupported_media_type()),
            other => other.flatten(),
        };
        let body = if body.iter().all(u8::is_ascii_whitespace) {
            None
        } else {
            let parsed = serde_json::from_slice(body);
            Some(parsed.map_err(|e| status::bad_request(format!("the body of the request is not JSON: {e}")))?)
        };
        Ok(Call {
            verb,
            kind,
            namespace,
            name,
            subresource,
            query,
            patch_type,
            metadata_only: header(http::header::ACCEPT).contains("as=PartialObjectMetadata"),
            user_agent: header(http::header::USER_AGENT).split('/').next().unwrap_or_default().to_string(),
            body,
        })
    }

    /// A create of `obj` (seeding a cluster): in `namespace`, else `default`.
    pub(crate) fn seed(kind: usize, namespace: Option<String>, obj: Value) -> Self {
        Call {
            verb: "create",
            kind,
            namespace: Some(namespace.unwrap_or_else(|| "default".into())),
            name: None,
            subresource: None,
            query: BTreeMap::new(),
            patch_type: None,
            metadata_only: false,
            user_agent: String::new(),
            body: Some(obj),
        }
    }

    /// A query parameter.
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// The field manager: the parameter, else the User-Agent's prefix, else `unknown`.
    pub(crate) fn field_manager(&self) -> String {
        let manager = self.param("fieldManager").unwrap_or(&self.user_agent);
        if manager.is_empty() { "unknown".to_string() } else { manager.to_string() }
    }

    /// `dryRun=All`.
    pub(crate) fn dry_run(&self) -> bool {
        self.param("dryRun").is_some()
    }

    /// The action clients see recorded.
    pub(crate) fn action(&self, kind: &Kind) -> Action {
        Action {
            verb: self.verb.to_string(),
            group: kind.group.clone(),
            version: kind.version.clone(),
            resource: kind.plural.clone(),
            subresource: self.subresource.clone(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            patch_type: self.patch_type,
            field_manager: self.param("fieldManager").map(str::to_string),
            force: self.param("force") == Some("true"),
            dry_run: self.dry_run(),
            label_selector: self.param("labelSelector").map(str::to_string),
            field_selector: self.param("fieldSelector").map(str::to_string),
            resource_version: self.param("resourceVersion").map(str::to_string),
            body: self.body.clone(),
            metadata_only: self.metadata_only,
        }
    }
}
