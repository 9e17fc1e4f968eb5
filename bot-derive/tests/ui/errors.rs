// Every misuse of #[kube(...)] / #[genclient(...)] that is a compile error,
// one theme per file in `errors/`, compiled together as one crate so the
// suite builds once (each case is a module; rustc reports every derive's
// errors, so each case's errors are all in `errors.stderr`, at its file).
#![allow(dead_code, unused_imports)]

#[path = "errors/all_errors_together.rs"]
mod all_errors_together;
#[path = "errors/annotation_one_string.rs"]
mod annotation_one_string;
#[path = "errors/attr_derive_not_allowed.rs"]
mod attr_derive_not_allowed;
#[path = "errors/attr_serde_not_allowed.rs"]
mod attr_serde_not_allowed;
#[path = "errors/bad_kind.rs"]
mod bad_kind;
#[path = "errors/bad_root.rs"]
mod bad_root;
#[path = "errors/cel_requires_derived_schema.rs"]
mod cel_requires_derived_schema;
#[path = "errors/crates_unknown_crate.rs"]
mod crates_unknown_crate;
#[path = "errors/derive_not_a_trait.rs"]
mod derive_not_a_trait;
#[path = "errors/duplicate_key.rs"]
mod duplicate_key;
#[path = "errors/fail_with_suggestion.rs"]
mod fail_with_suggestion;
#[path = "errors/genclient_method_forbidden_verb.rs"]
mod genclient_method_forbidden_verb;
#[path = "errors/genclient_method_missing_verb.rs"]
mod genclient_method_missing_verb;
#[path = "errors/genclient_method_scale_without_scale.rs"]
mod genclient_method_scale_without_scale;
#[path = "errors/genclient_non_namespaced_and_namespaced.rs"]
mod genclient_non_namespaced_and_namespaced;
#[path = "errors/genclient_readonly_and_no_verbs.rs"]
mod genclient_readonly_and_no_verbs;
#[path = "errors/genclient_status_verb_and_no_status.rs"]
mod genclient_status_verb_and_no_status;
#[path = "errors/genclient_status_verb_without_status.rs"]
mod genclient_status_verb_without_status;
#[path = "errors/genclient_unknown_key.rs"]
mod genclient_unknown_key;
#[path = "errors/genclient_unknown_verb.rs"]
mod genclient_unknown_verb;
#[path = "errors/genclient_verb_allowed_and_skipped.rs"]
mod genclient_verb_allowed_and_skipped;
#[path = "errors/generic_spec.rs"]
mod generic_spec;
#[path = "errors/kind_is_the_spec_name.rs"]
mod kind_is_the_spec_name;
#[path = "errors/label_wrong_form.rs"]
mod label_wrong_form;
#[path = "errors/missing_kube_attribute.rs"]
mod missing_kube_attribute;
#[path = "errors/missing_required.rs"]
mod missing_required;
#[path = "errors/missing_version_and_kind.rs"]
mod missing_version_and_kind;
#[path = "errors/no_spec_on_enum.rs"]
mod no_spec_on_enum;
#[path = "errors/no_spec_reserved_field.rs"]
mod no_spec_reserved_field;
#[path = "errors/printcolumn_bad_json.rs"]
mod printcolumn_bad_json;
#[path = "errors/printcolumn_missing_fields.rs"]
mod printcolumn_missing_fields;
#[path = "errors/printcolumn_priority_not_integer.rs"]
mod printcolumn_priority_not_integer;
#[path = "errors/printcolumn_unknown_subkey.rs"]
mod printcolumn_unknown_subkey;
#[path = "errors/scale_missing_paths.rs"]
mod scale_missing_paths;
#[path = "errors/schema_mode_invalid.rs"]
mod schema_mode_invalid;
#[path = "errors/schema_mode_unknown.rs"]
mod schema_mode_unknown;
#[path = "errors/status_not_a_type.rs"]
mod status_not_a_type;
#[path = "errors/string_key_without_value.rs"]
mod string_key_without_value;
#[path = "errors/union_fails.rs"]
mod union_fails;
#[path = "errors/unknown_key_did_you_mean.rs"]
mod unknown_key_did_you_mean;
#[path = "errors/unknown_key_lists_keys.rs"]
mod unknown_key_lists_keys;
#[path = "errors/validation_without_rule.rs"]
mod validation_without_rule;

fn main() {}
