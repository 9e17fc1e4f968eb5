//! Pluralisation is kube-derive's: the singular (given, or the lower-cased
//! kind) with `es`/`ies`/`s`, no irregular plurals unless `plural` is given.
//! A different plural renames the CRD (`plural.group`) and hides the
//! objects of a migrated type.

use kube::Resource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::twin::pretty_assert_eq;

macro_rules! kinds {
    ($($module:ident => $kind:literal $(, $key:ident = $value:literal)*;)*) => {
        $(
            pub mod $module {
                use super::*;
                twin! {
                    #[derive(CustomResource, Serialize, Deserialize, Clone, Debug, JsonSchema)]
                    #[kube(group = "plural.example.com", version = "v1", kind = $kind, namespaced $(, $key = $value)*)]
                    pub struct Spec { pub n: i32 }
                }
            }
        )*
    };
}

kinds! {
    person => "Person";
    person_singular => "Person", singular = "human";
    person_plural => "Person", plural = "people";
    policy => "Policy";
    policy_singular => "Policy", singular = "rule";
    proxy => "Proxy";
    proxy_singular => "Proxy", singular = "relay";
    gateway => "Gateway";
    gateway_singular => "Gateway", singular = "gw";
    status => "Status";
    status_singular => "Status", singular = "state";
    endpoints => "Endpoints";
    endpoints_singular => "Endpoints", singular = "endpoint";
    endpoints_plural => "Endpoints", plural = "endpoints";
    ingress => "Ingress";
    ingress_singular => "Ingress", singular = "entry";
}

/// Expected (singular, plural), and the same from kube-derive's own derive.
macro_rules! check {
    ($($module:ident: $kind:ident => $singular:literal, $plural:literal;)*) => {{
        let mut rows = Vec::new();
        $(
            let crd = <$module::bot_side::$kind as kube::CustomResourceExt>::crd();
            let kube_crd = <$module::kube_side::$kind as kube::CustomResourceExt>::crd();
            assert_eq!(
                (crd.spec.names.singular.as_deref(), crd.spec.names.plural.as_str()),
                (Some($singular), $plural),
                "{}", stringify!($module)
            );
            assert_eq!(<$module::bot_side::$kind as Resource>::plural(&()), $plural);
            assert_eq!(<$module::kube_side::$kind as Resource>::plural(&()), $plural);
            pretty_assert_eq(
                &serde_yaml::to_string(&kube_crd).unwrap(),
                &serde_yaml::to_string(&crd).unwrap(),
                stringify!($module),
            );
            rows.push(stringify!($module));
        )*
        rows.len()
    }};
}

#[test]
fn plurals_match_kube_derive_with_and_without_singular() {
    let n = check! {
        person: Person => "person", "persons";
        person_singular: Person => "human", "humans";
        person_plural: Person => "person", "people";
        policy: Policy => "policy", "policies";
        policy_singular: Policy => "rule", "rules";
        proxy: Proxy => "proxy", "proxies";
        proxy_singular: Proxy => "relay", "relays";
        gateway: Gateway => "gateway", "gateways";
        gateway_singular: Gateway => "gw", "gws";
        status: Status => "status", "statuses";
        status_singular: Status => "state", "states";
        endpoints: Endpoints => "endpoints", "endpointses";
        endpoints_singular: Endpoints => "endpoint", "endpoints";
        endpoints_plural: Endpoints => "endpoints", "endpoints";
        ingress: Ingress => "ingress", "ingresses";
        ingress_singular: Ingress => "entry", "entries";
    };
    assert_eq!(n, 16);
}
