// Bot is namespaced: its accessor takes the namespace.
fn main() {
    let f = |cs: bot_api::clientset::Clientset| cs.botops_v1alpha1().bots();
    drop(f);
}
