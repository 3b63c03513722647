//! Indexed Jobs, as upstream's `indexed_job_utils.go`: each pod carries a completion index (the
//! `batch.kubernetes.io/job-completion-index` annotation and label, the `JOB_COMPLETION_INDEX`
//! environment variable, hostname `<job>-<index>`), the succeeded indexes are kept in
//! `status.completedIndexes` as compressed ranges (`1,3-5`), missing indexes are created lowest
//! first, and pods repeating an index or outside the range are removed.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Container, EnvVar, EnvVarSource, ObjectFieldSelector, Pod};

/// The annotation and label with a pod's completion index.
pub const COMPLETION_INDEX: &str = "batch.kubernetes.io/job-completion-index";
/// The environment variable with the completion index.
const COMPLETION_INDEX_ENV: &str = "JOB_COMPLETION_INDEX";
/// Longest `generateName` prefix the API server keeps (upstream's `MaxGeneratedNameLength`).
const MAX_GENERATED_NAME_LENGTH: usize = 58;

/// Whether a Job is `completionMode: Indexed`.
pub fn is_indexed(job: &Job) -> bool {
    job.spec
        .as_ref()
        .and_then(|spec| spec.completion_mode.as_deref())
        == Some("Indexed")
}

/// A pod's completion index, if it has a valid one.
pub fn index_of(pod: &Pod) -> Option<i32> {
    pod.metadata
        .annotations
        .as_ref()?
        .get(COMPLETION_INDEX)?
        .parse()
        .ok()
        .filter(|index| *index >= 0)
}

/// Sorted, disjoint, non-adjacent ranges of indexes (upstream's `orderedIntervals`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Intervals(Vec<(i32, i32)>);

impl Intervals {
    /// Parses `status.completedIndexes`, ignoring corrupt parts and indexes `>= completions`.
    pub fn parse(text: &str, completions: i32) -> Intervals {
        let mut result: Vec<(i32, i32)> = Vec::new();
        if text.is_empty() {
            return Intervals(result);
        }
        for part in text.split(',') {
            let mut limits = part.split('-');
            let Some(Ok(first)) = limits.next().map(str::parse::<i32>) else {
                continue;
            };
            if first >= completions {
                break;
            }
            let last = match limits.next() {
                None => first,
                Some(text) => match text.parse::<i32>() {
                    Ok(last) => last.min(completions - 1),
                    Err(_) => continue,
                },
            };
            match result.last_mut() {
                Some(previous) if previous.1 == first - 1 => previous.1 = last,
                _ => result.push((first, last)),
            }
        }
        Intervals(result)
    }

    /// These ranges with `indexes` (sorted ascending) added.
    pub fn with(&self, indexes: &[i32]) -> Intervals {
        self.merge(&Intervals(
            indexes.iter().map(|index| (*index, *index)).collect(),
        ))
    }

    /// The union of these ranges and `other`'s.
    pub fn merge(&self, other: &Intervals) -> Intervals {
        let mut result: Vec<(i32, i32)> = Vec::new();
        let mut push = |interval: (i32, i32)| match result.last_mut() {
            Some(last) if interval.0 <= last.1.saturating_add(1) => last.1 = last.1.max(interval.1),
            _ => result.push(interval),
        };
        let (mut i, mut j) = (0, 0);
        while i < self.0.len() && j < other.0.len() {
            if self.0[i].0 < other.0[j].0 {
                push(self.0[i]);
                i += 1;
            } else {
                push(other.0[j]);
                j += 1;
            }
        }
        self.0[i..].iter().for_each(|interval| push(*interval));
        other.0[j..].iter().for_each(|interval| push(*interval));
        Intervals(result)
    }

    /// How many indexes these ranges and `other`'s have in common.
    pub fn overlap(&self, other: &Intervals) -> i32 {
        let mut common = 0;
        for (first, last) in &self.0 {
            for (other_first, other_last) in &other.0 {
                let width = last.min(other_last) - first.max(other_first) + 1;
                if width > 0 {
                    common += width;
                }
            }
        }
        common
    }

    /// How many indexes the ranges hold.
    pub fn total(&self) -> i32 {
        self.0.iter().map(|(first, last)| last - first + 1).sum()
    }

    /// Whether `index` is in a range.
    pub fn has(&self, index: i32) -> bool {
        self.0
            .iter()
            .any(|(first, last)| *first <= index && index <= *last)
    }
}

impl std::fmt::Display for Intervals {
    /// `1,3-5`; two adjacent indexes are written `1,2`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (n, (first, last)) in self.0.iter().enumerate() {
            if n > 0 {
                f.write_str(",")?;
            }
            write!(f, "{first}")?;
            if last > first {
                let separator = if *last == first + 1 { "," } else { "-" };
                write!(f, "{separator}{last}")?;
            }
        }
        Ok(())
    }
}

/// The lowest `count` indexes below `completions` neither `taken` (succeeded, failed, or held by a
/// terminating pod when those are not replaced yet) nor held by an active pod.
pub fn first_pending(
    active: &[Arc<Pod>],
    taken: &Intervals,
    count: usize,
    completions: i32,
) -> Vec<i32> {
    let held: BTreeSet<i32> = active.iter().filter_map(|pod| index_of(pod)).collect();
    let held: Vec<i32> = held.into_iter().collect();
    let taken = taken.with(&held);
    (0..completions)
        .filter(|index| !taken.has(*index))
        .take(count)
        .collect()
}

/// Active pods to remove whatever the wanted count: those without a valid index or beyond
/// `completions`, and all but one of the pods sharing an index (the one kept is the most
/// advanced: ready first, then oldest). Returns the pods to remove and the pods left.
pub fn duplicates(active: &[Arc<Pod>], completions: i32) -> (Vec<Arc<Pod>>, Vec<Arc<Pod>>) {
    let mut remove = Vec::new();
    let mut by_index: BTreeMap<i32, Vec<Arc<Pod>>> = BTreeMap::new();
    for pod in active {
        match index_of(pod) {
            Some(index) if index < completions => {
                by_index.entry(index).or_default().push(Arc::clone(pod))
            }
            _ => remove.push(Arc::clone(pod)),
        }
    }
    let mut left = Vec::new();
    for (_, mut pods) in by_index {
        pods.sort_by_key(|pod| {
            (
                !crate::pods::is_ready(pod),
                pod.metadata.creation_timestamp.as_ref().map(|time| time.0),
            )
        });
        let mut pods = pods.into_iter();
        if let Some(kept) = pods.next() {
            left.push(kept);
        }
        remove.extend(pods);
    }
    (remove, left)
}

fn add_index_env(container: &mut Container) {
    let env = container.env.get_or_insert_with(Vec::new);
    if env.iter().any(|var| var.name == COMPLETION_INDEX_ENV) {
        return;
    }
    env.push(EnvVar {
        name: COMPLETION_INDEX_ENV.to_owned(),
        value: None,
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                api_version: None,
                field_path: format!("metadata.labels['{COMPLETION_INDEX}']"),
            }),
            ..EnvVarSource::default()
        }),
    });
}

/// Makes `pod` (fresh from the Job's template) the pod of `index`.
pub fn assign(pod: &mut Pod, job_name: &str, index: i32) {
    let text = index.to_string();
    pod.metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(COMPLETION_INDEX.to_owned(), text.clone());
    pod.metadata
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert(COMPLETION_INDEX.to_owned(), text);
    let suffix = format!("-{index}-");
    let mut prefix = format!("{job_name}{suffix}");
    if prefix.len() > MAX_GENERATED_NAME_LENGTH {
        let mut keep = MAX_GENERATED_NAME_LENGTH - suffix.len();
        while !job_name.is_char_boundary(keep) {
            keep -= 1;
        }
        prefix = format!("{}{suffix}", &job_name[..keep]);
    }
    pod.metadata.generate_name = Some(prefix);
    if let Some(spec) = pod.spec.as_mut() {
        spec.hostname = Some(format!("{job_name}-{index}"));
        spec.init_containers
            .iter_mut()
            .flatten()
            .for_each(add_index_env);
        spec.containers.iter_mut().for_each(add_index_env);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn pod(index: Option<&str>) -> Arc<Pod> {
        Arc::new(Pod {
            metadata: ObjectMeta {
                annotations: index
                    .map(|index| BTreeMap::from([(COMPLETION_INDEX.to_owned(), index.to_owned())])),
                ..ObjectMeta::default()
            },
            ..Pod::default()
        })
    }

    #[test]
    fn completed_indexes_are_compressed_ranges() {
        let check = |text: &str, completions: i32, add: &[i32], expected: &str| {
            let intervals = Intervals::parse(text, completions).with(add);
            assert_eq!(intervals.to_string(), expected, "{text} + {add:?}");
        };
        check("", 10, &[0, 1, 2], "0-2");
        check("", 10, &[1, 3, 4, 5], "1,3-5");
        check("", 10, &[4, 5], "4,5");
        check("1,3-5", 10, &[2], "1-5");
        check("1,3-5", 10, &[0, 7], "0,1,3-5,7");
        check("0-2,x,7-20", 10, &[], "0-2,7-9");
        let merged = Intervals::parse("0,4-6", 10).merge(&Intervals::parse("1,3,8", 10));
        assert_eq!(merged.to_string(), "0,1,3-6,8");
        assert_eq!(
            Intervals::parse("0-5,8", 10).overlap(&Intervals::parse("2,4-9", 10)),
            4
        );
        assert_eq!(Intervals::parse("1,3-5", 10).total(), 4);
    }

    #[test]
    fn pending_indexes_skip_active_and_succeeded_ones() {
        let succeeded = Intervals::parse("0,3", 6);
        let active = vec![pod(Some("1")), pod(None)];
        assert_eq!(first_pending(&active, &succeeded, 2, 6), [2, 4]);
        assert_eq!(first_pending(&active, &succeeded, 10, 6), [2, 4, 5]);
    }

    #[test]
    fn repeated_and_invalid_indexes_are_removed() {
        let active = vec![pod(Some("0")), pod(Some("0")), pod(None), pod(Some("9"))];
        let (remove, left) = duplicates(&active, 3);
        assert_eq!(remove.len(), 3);
        assert_eq!(left.len(), 1);
    }

    #[test]
    fn pods_get_their_index() {
        let mut pod = Pod {
            spec: Some(k8s_openapi::api::core::v1::PodSpec {
                containers: vec![Container::default()],
                ..Default::default()
            }),
            ..Pod::default()
        };
        assign(&mut pod, "work", 2);
        assert_eq!(pod.metadata.generate_name.as_deref(), Some("work-2-"));
        let spec = pod.spec.expect("a spec");
        assert_eq!(spec.hostname.as_deref(), Some("work-2"));
        let env = spec.containers[0].env.clone().unwrap_or_default();
        assert_eq!(env[0].name, "JOB_COMPLETION_INDEX");
    }
}
