// What kube-derive accepts but cannot work as written compiles with a
// warning at the key (a `#[deprecated]` item bot-derive uses there). Here the
// warnings are made errors with `deny(deprecated)` so trybuild shows them;
// one theme per file in `warnings/`, compiled together as one crate.
#![deny(deprecated)]
#![allow(dead_code, unused_imports)]

#[path = "warnings/bad_group.rs"]
mod bad_group;
#[path = "warnings/bad_plural_and_singular.rs"]
mod bad_plural_and_singular;
#[path = "warnings/bad_version.rs"]
mod bad_version;
#[path = "warnings/printcolumn_bad_type.rs"]
mod printcolumn_bad_type;
#[path = "warnings/printcolumn_honours_rename.rs"]
mod printcolumn_honours_rename;
#[path = "warnings/printcolumn_honours_rename_all.rs"]
mod printcolumn_honours_rename_all;
#[path = "warnings/printcolumn_json_bad_type.rs"]
mod printcolumn_json_bad_type;
#[path = "warnings/printcolumn_path_without_dot.rs"]
mod printcolumn_path_without_dot;
#[path = "warnings/printcolumn_status_without_status.rs"]
mod printcolumn_status_without_status;
#[path = "warnings/printcolumn_unknown_spec_field.rs"]
mod printcolumn_unknown_spec_field;
#[path = "warnings/scale_paths_swapped.rs"]
mod scale_paths_swapped;
#[path = "warnings/scale_unknown_spec_field.rs"]
mod scale_unknown_spec_field;
#[path = "warnings/scale_without_status.rs"]
mod scale_without_status;
#[path = "warnings/selectable_not_a_path.rs"]
mod selectable_not_a_path;
#[path = "warnings/selectable_unknown_field.rs"]
mod selectable_unknown_field;

fn main() {}
