//! The derived CRDs have the shape the API server expects.

use bot_api::v1alpha1::{Bot, Event, EventBinding};
use kube::CustomResourceExt;

#[test]
fn bot_crd_shape() {
    let crd = serde_json::to_value(Bot::crd()).unwrap();
    println!("{}", serde_json::to_string_pretty(&crd).unwrap());
    assert_eq!(crd["metadata"]["name"], "bots.botops.dev");
    let v = &crd["spec"]["versions"][0];
    assert_eq!(v["name"], "v1alpha1");
    assert_eq!(v["subresources"]["status"], serde_json::json!({}));
    let schema = &v["schema"]["openAPIV3Schema"];
    assert_eq!(schema["properties"]["spec"]["properties"]["platform"]["enum"][0], "line");
    assert_eq!(schema["properties"]["spec"]["properties"]["replicas"]["maximum"], 10.0);
    assert!(
        schema["properties"]["spec"]["properties"]["credentialsSecret"]["description"]
            .as_str()
            .unwrap()
            .contains("Secret")
    );
    assert_eq!(crd["spec"]["names"]["shortNames"][0], "bot");
}

#[test]
fn event_has_no_status_subresource() {
    let crd = serde_json::to_value(Event::crd()).unwrap();
    assert!(crd["spec"]["versions"][0]["subresources"].is_null());
    let crd = serde_json::to_value(EventBinding::crd()).unwrap();
    assert_eq!(crd["spec"]["names"]["shortNames"][0], "evb");
}
