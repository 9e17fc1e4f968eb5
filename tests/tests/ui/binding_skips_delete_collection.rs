// EventBinding has #[genclient(skip_verbs(delete_collection))].
fn main() {
    async fn f(cs: bot_api::clientset::Clientset) {
        let _ = cs
            .botops_v1alpha1()
            .event_bindings("ns")
            .delete_collection(&Default::default(), &Default::default())
            .await;
    }
    drop(f);
}
