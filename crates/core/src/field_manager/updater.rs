//! The field ownership algorithm (structured-merge-diff's `merge.Updater`): an update takes the fields
//! it changed from every other manager; an apply merges the configuration into the live object,
//! prunes what the applier applied last time and no longer applies (unless another manager owns it),
//! and fails on fields other managers own and the apply would change, unless forced.

use std::collections::BTreeMap;

use serde_json::Value;

use super::compare::{Comparison, compare};
use super::conflict::{Conflict, Conflicts};
use super::fieldset::{ensure_named_fields_are_members, to_field_set};
use super::managers::{ManagerId, VersionedSet};
use super::merge::merge;
use super::remove::remove_items;
use super::set::Set;

/// Field sets by manager.
pub type Fields = BTreeMap<ManagerId, VersionedSet>;

/// Why an apply failed in the ownership algorithm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdaterError {
    /// Other managers own fields the apply would change.
    Conflicts(Conflicts),
    /// The configuration or live object does not fit the types (duplicate or keyless list items).
    Invalid(String),
}

/// The updater for one resource and subresource: `ignored` are the fields the request cannot change
/// (upstream's reset fields, e.g. `status` on the main resource).
pub struct Updater<'a> {
    /// Fields nobody gains by this request.
    pub ignored: &'a Set,
    /// The API version of the request.
    pub api_version: &'a str,
}

impl Updater<'_> {
    /// Takes what changed between `old` and `new` away from every manager but `workflow` (conflicts
    /// are an error unless `force`), and what was removed from all of them.
    pub fn update(
        &self,
        old: Option<&Value>,
        new: &Value,
        managers: &mut Fields,
        workflow: Option<&ManagerId>,
        force: bool,
    ) -> Result<Comparison, Conflicts> {
        let comparison = compare(old, new);
        if managers.keys().all(|id| Some(id) == workflow) {
            return Ok(comparison);
        }
        let excluded = comparison.exclude(self.ignored);
        let changed = excluded.changed();
        let mut conflicts = Vec::new();
        let mut taken: Vec<(ManagerId, Set)> = Vec::new();
        for (id, versioned) in managers.iter() {
            if Some(id) == workflow {
                continue;
            }
            let conflict = versioned.set.intersection(&changed);
            if !conflict.is_empty() {
                conflicts.extend(conflict.paths().into_iter().map(|path| Conflict {
                    manager: id.clone(),
                    path,
                }));
                taken.push((id.clone(), conflict));
            }
        }
        if !force && !conflicts.is_empty() {
            return Err(Conflicts(conflicts));
        }
        for (id, conflict) in taken {
            if let Some(versioned) = managers.get_mut(&id) {
                versioned.set.remove(&conflict, false);
            }
        }
        for (id, versioned) in managers.iter_mut() {
            if Some(id) != workflow {
                versioned.set.remove(&excluded.removed, false);
            }
        }
        managers.retain(|_, versioned| !versioned.set.is_empty());
        Ok(comparison)
    }

    /// The fields an update from `old` to `new` gives its manager (taking them from the others):
    /// added and modified, less removed and ignored.
    pub fn update_fields(&self, old: Option<&Value>, new: &Value, managers: &mut Fields) -> Set {
        // Forced: an update never conflicts.
        let comparison = self
            .update(old, new, managers, None, true)
            .unwrap_or_default();
        let mut changed = comparison.into_changed();
        changed.remove(self.ignored, true);
        changed
    }

    /// Applies `config` to `live` for `manager`. Returns the new object, or `None` when the apply
    /// changes nothing (ownership may still change).
    pub fn apply(
        &self,
        live: &Value,
        config: &Value,
        managers: &mut Fields,
        manager: &ManagerId,
        force: bool,
    ) -> Result<Option<Value>, UpdaterError> {
        let set = to_field_set(config, false)
            .map_err(UpdaterError::Invalid)?
            .recursive_difference(self.ignored);
        let merged = merge(live, config);
        let last = managers.get(manager).cloned();
        managers.insert(
            manager.clone(),
            VersionedSet {
                set,
                api_version: self.api_version.to_owned(),
                applied: true,
            },
        );
        let merged = match last {
            Some(last) if !last.set.is_empty() => {
                prune(&merged, managers, &last.set).map_err(UpdaterError::Invalid)?
            }
            _ => merged,
        };
        self.update(Some(live), &merged, managers, Some(manager), force)
            .map_err(UpdaterError::Conflicts)?;
        Ok((merged != *live).then_some(merged))
    }
}

/// Removes from `merged` what the applier owned last time (`last`) and nobody owns now.
fn prune(merged: &Value, managers: &Fields, last: &Set) -> Result<Value, String> {
    let last = ensure_named_fields_are_members(last);
    let pruned = remove_items(merged, &last);
    // Add back what any manager (the applier's new configuration included) owns.
    let mut managed = Set::new();
    for versioned in managers.values() {
        managed = managed.union(&versioned.set);
    }
    let merged_set = ensure_named_fields_are_members(&to_field_set(merged, true)?);
    let pruned_set = ensure_named_fields_are_members(&to_field_set(&pruned, true)?);
    let unowned =
        merged_set.difference(&pruned_set.union(&ensure_named_fields_are_members(&managed)));
    let pruned = remove_items(merged, &unowned);
    // Remove only what the applier owned last time: unowned fields others set stay.
    let pruned_set = ensure_named_fields_are_members(&to_field_set(&pruned, true)?);
    Ok(remove_items(
        merged,
        &merged_set.difference(&pruned_set).intersection(&last),
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::field_manager::managers::Operation;

    fn applier(name: &str) -> ManagerId {
        ManagerId::new(name, Operation::Apply, "apps/v1", "")
    }

    fn deployment(replicas: i64, hostname: Option<&str>) -> Value {
        let mut spec = json!({"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                         "spec": {"containers": [{"name": "web", "image": "nginx"}]}}});
        if let Some(hostname) = hostname {
            spec["template"]["spec"]["hostname"] = json!(hostname);
        }
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": spec})
    }

    #[test]
    fn apply_removes_what_only_the_applier_owned() {
        let ignored = Set::new();
        let updater = Updater {
            ignored: &ignored,
            api_version: "apps/v1",
        };
        let mut managers = Fields::new();
        let empty = json!({});
        let first = updater
            .apply(
                &empty,
                &deployment(3, Some("h")),
                &mut managers,
                &applier("one"),
                false,
            )
            .expect("applies")
            .expect("changes");
        let second = updater
            .apply(
                &first,
                &deployment(3, None),
                &mut managers,
                &applier("one"),
                false,
            )
            .expect("applies")
            .expect("changes");
        assert_eq!(second["spec"]["template"]["spec"].get("hostname"), None);
        assert_eq!(second["spec"]["replicas"], 3);
    }

    #[test]
    fn shared_fields_stay_and_conflicts_need_force() {
        let ignored = Set::new();
        let updater = Updater {
            ignored: &ignored,
            api_version: "apps/v1",
        };
        let mut managers = Fields::new();
        let mut object = json!({});
        for name in ["one", "two"] {
            object = updater
                .apply(
                    &object,
                    &deployment(3, Some("h")),
                    &mut managers,
                    &applier(name),
                    false,
                )
                .expect("applies")
                .unwrap_or(object);
        }
        let unset = updater
            .apply(
                &object,
                &deployment(3, None),
                &mut managers,
                &applier("one"),
                false,
            )
            .expect("applies");
        assert!(unset.is_none(), "two still owns the hostname: {unset:?}");
        let conflict = updater
            .apply(
                &object,
                &deployment(5, Some("h")),
                &mut managers,
                &applier("one"),
                false,
            )
            .expect_err("two owns the replicas");
        let UpdaterError::Conflicts(conflicts) = conflict else {
            panic!("not a conflict: {conflict:?}");
        };
        assert_eq!(
            conflicts.message(),
            "Apply failed with 1 conflict: conflict with \"two\": .spec.replicas"
        );
        let forced = updater
            .apply(
                &object,
                &deployment(5, Some("h")),
                &mut managers,
                &applier("one"),
                true,
            )
            .expect("forced")
            .expect("changes");
        assert_eq!(forced["spec"]["replicas"], 5);
        let replicas = [
            crate::field_manager::path::PathElement::field("spec"),
            crate::field_manager::path::PathElement::field("replicas"),
        ];
        assert!(!managers[&applier("two")].set.has(&replicas));
        assert!(managers[&applier("one")].set.has(&replicas));
    }

    #[test]
    fn updates_take_changed_fields() {
        let ignored = Set::new();
        let updater = Updater {
            ignored: &ignored,
            api_version: "apps/v1",
        };
        let mut managers = Fields::new();
        let object = updater
            .apply(
                &json!({}),
                &deployment(3, None),
                &mut managers,
                &applier("one"),
                false,
            )
            .expect("applies")
            .expect("changes");
        let mut scaled = object.clone();
        scaled["spec"]["replicas"] = json!(5);
        let taken = updater.update_fields(Some(&object), &scaled, &mut managers);
        assert_eq!(taken.to_fields_v1(), json!({"f:spec": {"f:replicas": {}}}));
        assert!(!managers[&applier("one")].set.has(&[
            crate::field_manager::path::PathElement::field("spec"),
            crate::field_manager::path::PathElement::field("replicas"),
        ]));
    }
}
