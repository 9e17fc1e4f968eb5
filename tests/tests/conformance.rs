//! Conformance of the fake API server (`bot_runtime::fake`) with a real
//! kube-apiserver: every case is written once, against a `kube::Client`,
//! and runs twice, `fake::<case>` on a `FakeCluster` (in-process, no
//! control plane) and `real::<case>` on the local control plane.
//!
//! Each case asserts the behaviour it is about and writes down what it
//! observed (objects, error codes, reasons and messages, watch events,
//! managedFields) in a transcript; both sides must reproduce the transcript
//! recorded from the real apiserver in `conformance/expected/<case>.json`,
//! step for step. Re-record after a Kubernetes upgrade:
//!
//! ```sh
//! BLESS=1 cargo test -p bot-tests --test conformance real::
//! cargo test -p bot-tests --test conformance fake::   # no control plane needed
//! ```

/// The cases and their harness (files under `conformance/`).
mod conformance {
    pub(crate) mod apply;
    pub(crate) mod crud;
    pub(crate) mod delete;
    pub(crate) mod harness;
    pub(crate) mod objects;
    pub(crate) mod patch;
    pub(crate) mod select;
    pub(crate) mod watch;
}

/// Two tests per case: `fake::<case>` and `real::<case>`.
macro_rules! cases {
    ($($module:ident :: $case:ident),* $(,)?) => {
        mod fake {
            $(
                #[tokio::test]
                async fn $case() -> anyhow::Result<()> {
                    let case = crate::conformance::$module::$case;
                    crate::conformance::harness::run(stringify!($case), crate::conformance::harness::Side::Fake, case).await
                }
            )*
        }
        mod real {
            $(
                #[tokio::test]
                async fn $case() -> anyhow::Result<()> {
                    let case = crate::conformance::$module::$case;
                    crate::conformance::harness::run(stringify!($case), crate::conformance::harness::Side::Real, case).await
                }
            )*
        }
        /// Every case, for the count in the docs.
        #[allow(dead_code)]
        const CASES: &[&str] = &[$(stringify!($case)),*];
    };
}

cases! {
    crud::get_missing_is_not_found,
    crud::create_existing_is_already_exists,
    crud::create_sets_system_fields,
    crud::create_with_generate_name,
    crud::create_without_name_is_invalid,
    crud::create_in_another_namespace_is_bad_request,
    crud::dry_run_create_stores_nothing,
    crud::update_with_stale_resource_version_conflicts,
    crud::update_without_resource_version,
    crud::update_missing_or_misnamed,
    crud::status_subresource_semantics,
    crud::generation_and_resource_version,
    crud::deployment_generation,
    select::label_selector_equality,
    select::label_selector_set_based,
    select::label_selector_exists,
    select::invalid_label_selector_is_bad_request,
    select::field_selector_metadata,
    select::unsupported_field_selector_is_bad_request,
    select::list_pagination,
    select::list_resource_version,
    select::metadata_only_reads,
    watch::watch_event_order,
    watch::watch_resumes_from_resource_version,
    watch::watch_from_zero_starts_with_current_objects,
    watch::watch_selector_transitions,
    watch::watch_streaming_list,
    watch::watch_metadata_only,
    delete::delete_returns_status,
    delete::delete_preconditions,
    delete::finalizers_hold_deletion,
    delete::deletion_timestamp_survives_updates,
    delete::delete_collection_by_label,
    patch::merge_patch,
    patch::json_patch,
    patch::patch_with_stale_resource_version_conflicts,
    patch::strategic_merge_patch,
    patch::updates_record_managed_fields,
    patch::managed_fields_written_by_clients,
    apply::apply_creates_and_owns_what_it_sets,
    apply::apply_same_config_is_a_noop,
    apply::apply_conflicts_name_the_owner,
    apply::apply_shares_ownership_of_equal_values,
    apply::apply_force_takes_ownership,
    apply::apply_removes_fields_it_stops_applying,
    apply::apply_status_subresource,
    apply::apply_map_list_by_key,
    apply::apply_deployment_keyed_lists,
    apply::apply_set_list,
    apply::apply_with_stale_resource_version,
}
