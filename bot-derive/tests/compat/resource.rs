//! kube-derive 5.0.0 `tests/resource.rs`: `#[derive(Resource)]` inherits
//! the `Resource` impl of an existing kind.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::{
    ByteString,
    api::core::v1::{ConfigMap, Secret},
};

mod bot_side {
    use super::*;
    use bot_derive::Resource;

    #[derive(Resource, Default)]
    #[resource(inherit = "ConfigMap")]
    pub struct TypedMap {
        pub metadata: ObjectMeta,
        pub data: Option<TypedData>,
    }

    #[derive(Resource, Default)]
    #[resource(inherit = "Secret")]
    pub struct TypedSecret {
        pub metadata: ObjectMeta,
        pub data: Option<TypedSecretData>,
    }
}

mod kube_side {
    use super::*;
    use kube::Resource;

    #[derive(Resource, Default)]
    #[resource(inherit = "ConfigMap")]
    pub struct TypedMap {
        pub metadata: ObjectMeta,
        pub data: Option<TypedData>,
    }
}

#[derive(Default)]
pub struct TypedData {
    field: String,
}

#[derive(Default)]
pub struct TypedSecretData {
    field: ByteString,
}

use kube::Resource;

use bot_side::{TypedMap, TypedSecret};

#[test]
fn test_parse_config_map_default() {
    TypedMap::default();
    assert_eq!(TypedMap::kind(&()), "ConfigMap");
    assert_eq!(TypedMap::api_version(&()), "v1");
    assert_eq!(TypedMap::group(&()), "");
    assert_eq!(TypedMap::plural(&()), "configmaps");
    assert_eq!(TypedMap::url_path(&(), Some("ns")), kube_side::TypedMap::url_path(&(), Some("ns")));
    let mut m = TypedMap::default();
    m.meta_mut().name = Some("x".into());
    assert_eq!(m.meta().name.as_deref(), Some("x"));
}

#[test]
fn test_parse_secret_default() {
    TypedSecret::default();
    assert_eq!(TypedSecret::kind(&()), "Secret");
    assert_eq!(TypedSecret::api_version(&()), "v1");
    assert_eq!(TypedSecret::group(&()), "");
    assert_eq!(TypedSecret::plural(&()), "secrets");
}
