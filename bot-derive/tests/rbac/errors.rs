//! Every problem of a marker is reported, each at its key; the item is still
//! emitted (no cascade of "cannot find function").

use bot_derive::rbac;

#[rbac(group = "apps", resources = ["Deployments"], verbs = ["gett", "delete_collection"])]
fn misspelt() {}

#[rbac(groups = "coordination.k8s.io", resources = "leases", verbs = ["create", "get"], resource_names = "op")]
fn create_by_name() {}

#[rbac(urls = "metrics", verbs = "get", namespace = "ops")]
fn url_in_a_namespace() {}

#[rbac(groups = "", resources = "pods")]
fn no_verbs() {}

#[rbac]
fn no_arguments() {}

fn main() {
    misspelt();
    create_by_name();
    url_in_a_namespace();
    no_verbs();
    no_arguments();
}
