// Event has no status type: its client has no update_status.
fn main() {
    async fn f(cs: bot_api::clientset::Clientset, e: bot_api::v1alpha1::Event) {
        let _ = cs.botops_v1alpha1().events("ns").update_status(&e, &Default::default()).await;
    }
    drop(f);
}
