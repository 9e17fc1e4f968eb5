//! Generates the clientset, listers and informers of the botops.dev API.

fn main() {
    bot_gen::Config::new().input("src/v1alpha1.rs").generate().expect("bot-gen");
}
