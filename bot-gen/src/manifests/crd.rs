//! CustomResourceDefinitions as manifests: one YAML file per CRD, named
//! `<group>_<plural>.yaml` as controller-gen names them.

use serde::{Deserialize as _, Serialize};

use super::{Error, Result};

/// One CRD, ready to be written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Crd {
    /// `metadata.name`, `<plural>.<group>`.
    pub(crate) name: String,
    /// `<group>_<plural>.yaml`.
    pub(crate) file_name: String,
    /// The CRD, its keys in the order it was serialized or written in.
    pub(crate) value: serde_yaml::Value,
}

impl Crd {
    /// A CRD from any serializable value (`k8s_openapi`'s
    /// `CustomResourceDefinition`, a `serde_json::Value`, ...).
    pub(crate) fn from_serialize(crd: &impl Serialize) -> Result<Self> {
        let value = serde_yaml::to_value(crd).map_err(|e| Error::Crd(format!("cannot serialize a CRD: {e}")))?;
        Self::from_value(value)
    }

    fn from_value(value: serde_yaml::Value) -> Result<Self> {
        let text = |path: &[&str]| {
            path.iter().try_fold(&value, |v, key| v.get(key)).and_then(serde_yaml::Value::as_str).map(str::to_string)
        };
        let kind = text(&["kind"]).unwrap_or_default();
        if kind != "CustomResourceDefinition" {
            return Err(Error::Crd(format!("expected a CustomResourceDefinition, found kind `{kind}`")));
        }
        let name = text(&["metadata", "name"]).unwrap_or_default();
        let (Some(group), Some(plural)) = (text(&["spec", "group"]), text(&["spec", "names", "plural"])) else {
            return Err(Error::Crd(format!("the CRD `{name}` has no spec.group or spec.names.plural")));
        };
        Ok(Self { name, file_name: format!("{group}_{plural}.yaml"), value })
    }

    /// Every CRD of a YAML (or JSON) stream, such as `kubectl get crd -o yaml`
    /// items or the output of a `--print-crds` command; empty documents are
    /// skipped, and a `List` contributes its items.
    pub(crate) fn from_yaml_stream(text: &str) -> Result<Vec<Self>> {
        let mut out = Vec::new();
        for doc in serde_yaml::Deserializer::from_str(text) {
            let value = serde_yaml::Value::deserialize(doc).map_err(|e| Error::Crd(format!("invalid YAML: {e}")))?;
            match value {
                serde_yaml::Value::Null => {}
                list if list.get("kind").and_then(serde_yaml::Value::as_str) == Some("List") => {
                    let items = list.get("items").and_then(serde_yaml::Value::as_sequence).cloned().unwrap_or_default();
                    for item in items {
                        out.push(Self::from_value(item)?);
                    }
                }
                crd => out.push(Self::from_value(crd)?),
            }
        }
        Ok(out)
    }

    /// The file's content: `header`, then the CRD.
    pub(crate) fn render(&self, header: &str) -> Result<String> {
        let yaml = serde_yaml::to_string(&self.value).map_err(|e| Error::Internal(e.to_string()))?;
        Ok(format!("{header}{yaml}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CRD: &str = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n\
                       metadata:\n  name: widgets.a.io\nspec:\n  group: a.io\n  names:\n    plural: widgets\n";

    #[test]
    fn yaml_round_trips_in_its_own_key_order() {
        let crds = Crd::from_yaml_stream(&format!("# comment\n---\n{CRD}---\n")).unwrap();
        assert_eq!(crds.len(), 1);
        assert_eq!(crds[0].file_name, "a.io_widgets.yaml");
        assert_eq!(crds[0].name, "widgets.a.io");
        assert_eq!(crds[0].render("").unwrap(), CRD);
    }

    #[test]
    fn json_and_lists_are_read() {
        let json = r#"{"kind": "List", "items": [{"kind": "CustomResourceDefinition", "metadata": {"name": "b.c"},
                       "spec": {"group": "c", "names": {"plural": "b"}}}]}"#;
        let crds = Crd::from_yaml_stream(json).unwrap();
        assert_eq!(crds[0].file_name, "c_b.yaml");
    }

    #[test]
    fn other_kinds_are_refused() {
        let err = Crd::from_yaml_stream("kind: ConfigMap\n").unwrap_err().to_string();
        assert!(err.contains("found kind `ConfigMap`"), "{err}");
    }
}
