//! Markers on every kind of item the generator reads them from.

use bot_derive::rbac;

#[rbac(groups = "apps", resources = "deployments", verbs = ["get", "list", "watch"])]
#[bot_derive::rbac(groups = "", resources = ["services", "configmaps"], verbs = "create")]
fn reconcile() -> u32 {
    #[rbac(groups = "coordination.k8s.io", resources = "leases", verbs = "create", namespace = "ops")]
    fn nested() -> u32 {
        1
    }
    nested() + 1
}

#[rbac(urls = ["/metrics"], verbs = "get")]
mod server {
    use super::rbac;

    pub(crate) struct Server;

    impl Server {
        #[rbac(groups = "events.k8s.io", resources = "events", verbs = ["create", "patch"])]
        pub(crate) fn publish(&self) -> &'static str {
            "published"
        }
    }
}

#[rbac(groups = "core", resources = "secrets", verbs = ["list", "watch"])]
const INFORMERS: usize = 7;

#[rbac(groups = "example.com", resources = "widgets/status", verbs = "patch")]
async fn write_status() -> bool {
    true
}

fn main() {
    assert_eq!(reconcile(), 2);
    assert_eq!(server::Server.publish(), "published");
    assert_eq!(INFORMERS, 7);
    drop(write_status());
}
