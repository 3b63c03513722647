//! The store conformance suite: every case runs once against each backend, which must agree exactly.
//!
//! Modelled on Kubernetes' `storage/testing/store_tests.go`. Each case is an `async fn(&mut Harness)`
//! in the module of its concept; [`suite!`] turns the list below into one test per case and backend,
//! named `<backend>::<module>::<case>`, so `cargo test --test conformance etcd::watch::` runs a slice.
//! The etcd cases start a private etcd per test (compaction is global in etcd) and fail, rather than
//! skip, when no etcd binary is installed; `etcd_prefixed` runs them again with a key prefix, as
//! kube-apiserver's `--etcd-prefix` would set.

/// Asserts that `$result` is an `Err` matching `$pattern`, showing what it was otherwise.
macro_rules! assert_err {
    ($result:expr, $pattern:pat $(if $guard:expr)? $(,)?) => {
        match $result {
            Err($pattern) $(if $guard)? => {}
            other => panic!(
                "expected Err({}), got {:?}",
                stringify!($pattern),
                other
            ),
        }
    };
}

mod harness;
mod model;
mod stream;

mod cas;
mod compaction;
mod crud;
mod limits;
mod list;
mod progress;
mod restart;
mod watch;

/// Generates the tests of one backend: `mod $backend { mod $module { #[tokio::test] fn $case } }`.
macro_rules! backend {
    ($backend:ident, $($module:ident: [$($case:ident),* $(,)?]),* $(,)?) => {
        mod $backend {
            $(
                mod $module {
                    $(
                        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                        async fn $case() {
                            let mut harness = crate::harness::Harness::$backend().await;
                            let case = crate::$module::$case(&mut harness);
                            let finished = tokio::time::timeout(crate::harness::CASE_TIMEOUT, case).await;
                            assert!(finished.is_ok(), "case did not finish within {:?}", crate::harness::CASE_TIMEOUT);
                            harness.close().await;
                        }
                    )*
                }
            )*
        }
    };
}

/// Generates every case for every backend.
macro_rules! suite {
    ($($cases:tt)*) => {
        backend!(sqlite, $($cases)*);
        backend!(etcd, $($cases)*);
        backend!(etcd_prefixed, $($cases)*);
    };
}

suite! {
    crud: [
        new_store_is_empty_at_revision_one,
        get_missing_is_none,
        create_then_get,
        create_existing_is_already_exists,
        empty_and_binary_values_round_trip,
        update_with_expected_revision,
        update_with_stale_revision_is_conflict,
        update_missing_is_not_found,
        delete_without_expected,
        delete_with_expected,
        delete_with_stale_revision_is_conflict,
        delete_missing_is_not_found,
        recreate_after_delete_gets_new_create_revision,
        writes_take_consecutive_revisions,
        failed_writes_take_no_revision,
        count_by_prefix,
        update_with_same_value_takes_a_revision,
    ],
    cas: [
        concurrent_increments_lose_no_update,
        concurrent_creates_exactly_one_wins,
        concurrent_deletes_exactly_one_wins,
        concurrent_writers_get_distinct_consecutive_revisions,
        racing_creates_and_failures_share_commits,
    ],
    list: [
        list_empty_prefix,
        list_prefix_isolation,
        list_key_order,
        list_items_carry_revisions,
        list_limit_and_after_paginate,
        list_after_key_between_keys,
        list_at_old_revision,
        list_pages_at_fixed_revision_ignore_concurrent_writes,
        list_future_revision,
        prefixes_with_sql_wildcards_match_literally,
    ],
    watch: [
        watch_from_revision_delivers_history,
        watch_from_middle_revision,
        watch_after_zero_only_later_writes,
        watch_filters_by_prefix,
        watch_recreated_key,
        watch_replays_history_then_continues_live,
        many_watchers_get_every_event,
        slow_watchers_do_not_block_writers,
        watch_ends_when_store_closes,
    ],
    progress: [
        request_progress_after_writes,
        request_progress_on_idle_prefix_covers_other_writes,
        progress_interval_on_idle_watch,
        progress_interleaved_with_events,
    ],
    compaction: [
        compacted_revisions_are_gone_from_list,
        compacted_list_continuation_fails,
        watch_before_compaction_fails,
        watch_at_compaction_boundary_works,
        compact_older_revision_is_a_noop,
        compaction_keeps_current_state,
        lagging_watcher_never_skips_events,
        compaction_of_long_history,
        compaction_during_writes_keeps_live_watchers_whole,
    ],
    limits: [
        max_value_round_trips,
        value_over_max_is_too_large,
        max_values_in_list_and_watch,
        longest_key_round_trips,
        invalid_keys_are_refused_by_every_method,
        invalid_prefixes_are_refused,
    ],
    restart: [
        restart_empty_store,
        restart_recovers_values_and_revision,
        restart_keeps_history,
        restart_keeps_compaction,
    ],
}
