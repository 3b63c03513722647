//! The dependency graph of the garbage collector, without I/O: every object that has owners or is
//! an owner, by uid, with its owner references and dependents. Each observed change returns the
//! work it makes (objects to check for deletion, owners whose dependents to orphan), as upstream's
//! `GraphBuilder.processGraphChanges`.

use std::collections::{BTreeSet, HashMap, HashSet};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

/// The finalizer of a delete that orphans the dependents.
pub const ORPHAN: &str = "orphan";
/// The finalizer of a foreground delete (dependents first).
pub const FOREGROUND: &str = "foregroundDeletion";

/// Where an object is: enough to read, patch or delete it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Identity {
    /// `group/version` or `v1`.
    pub api_version: String,
    /// Kind.
    pub kind: String,
    /// Namespace, empty for cluster-scoped objects.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// UID.
    pub uid: String,
}

/// What a watch event says about an object.
#[derive(Clone, Debug)]
pub struct Observed {
    /// Where it is.
    pub identity: Identity,
    /// Its owner references.
    pub owners: Vec<OwnerReference>,
    /// Whether it has a deletion timestamp.
    pub being_deleted: bool,
    /// Its finalizers.
    pub finalizers: Vec<String>,
}

impl Observed {
    fn has(&self, finalizer: &str) -> bool {
        self.finalizers.iter().any(|f| f == finalizer)
    }
}

/// A change to the graph.
#[derive(Debug)]
pub enum GraphEvent {
    /// An object was added or changed.
    Upsert(Observed),
    /// An object was deleted.
    Delete(Observed),
    /// A live read found the object gone (or replaced by another uid).
    VirtualDelete(Identity),
    /// A relist of one resource holds exactly these uids; nodes of it missing there are deleted.
    Relisted {
        /// The resource's `group/version`.
        api_version: String,
        /// Its kind.
        kind: String,
        /// Every uid the list returned.
        uids: HashSet<String>,
    },
}

/// One object in the graph.
#[derive(Clone, Debug)]
pub struct Node {
    /// Where it is (a virtual node has the coordinates of the first reference to it).
    pub identity: Identity,
    /// Its owner references.
    pub owners: Vec<OwnerReference>,
    /// UIDs of the objects that name it as an owner.
    pub dependents: BTreeSet<String>,
    /// Marked for deletion.
    pub being_deleted: bool,
    /// Marked for deletion with `foregroundDeletion`: waiting for its blocking dependents.
    pub deleting_dependents: bool,
    /// Marked for deletion with `orphan`.
    pub orphaning: bool,
    /// Only known from a reference, never observed by a watch.
    pub virtual_node: bool,
}

/// Work a change makes.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Work {
    /// UIDs to check for deletion (`attemptToDelete`).
    pub delete: Vec<String>,
    /// UIDs of owners whose dependents to orphan (`attemptToOrphan`).
    pub orphan: Vec<String>,
}

/// The graph.
#[derive(Default)]
pub struct Graph {
    nodes: HashMap<String, Node>,
    /// Owners known to be gone, by namespace and uid.
    absent: HashSet<(String, String)>,
}

/// Most absent owners remembered.
const ABSENT_LIMIT: usize = 4096;

impl Graph {
    /// The node of `uid`.
    pub fn node(&self, uid: &str) -> Option<&Node> {
        self.nodes.get(uid)
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the graph is empty.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Whether the owner `uid` in `namespace` (empty: any) is known to be gone.
    pub fn is_absent(&self, namespace: &str, uid: &str) -> bool {
        self.absent.contains(&(String::new(), uid.to_owned()))
            || self
                .absent
                .contains(&(namespace.to_owned(), uid.to_owned()))
    }

    /// Records that an owner is gone.
    pub fn mark_absent(&mut self, namespace: &str, uid: &str) {
        if self.absent.len() >= ABSENT_LIMIT {
            self.absent.clear();
        }
        self.absent.insert((namespace.to_owned(), uid.to_owned()));
    }

    /// The dependents of `uid` whose reference to it blocks its deletion.
    pub fn blocking_dependents(&self, uid: &str) -> Vec<&Node> {
        self.dependents(uid)
            .into_iter()
            .filter(|dependent| {
                dependent
                    .owners
                    .iter()
                    .any(|owner| owner.uid == uid && owner.block_owner_deletion == Some(true))
            })
            .collect()
    }

    /// The dependents of `uid`.
    pub fn dependents(&self, uid: &str) -> Vec<&Node> {
        self.nodes
            .get(uid)
            .map(|node| {
                node.dependents
                    .iter()
                    .filter_map(|dependent| self.nodes.get(dependent))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Applies one change; returns the work it makes.
    pub fn process(&mut self, event: GraphEvent) -> Work {
        let mut work = Work::default();
        match event {
            GraphEvent::Upsert(observed) => self.upsert(observed, &mut work),
            GraphEvent::Delete(observed) => {
                if self.nodes.contains_key(&observed.identity.uid) {
                    self.remove(&observed.identity.uid, &mut work);
                }
            }
            GraphEvent::VirtualDelete(identity) => {
                if let Some(node) = self.nodes.get(&identity.uid) {
                    // A node seen by a watch is only removed when the live read agrees on where it is.
                    if node.virtual_node || node.identity == identity {
                        self.remove(&identity.uid, &mut work);
                    }
                }
            }
            GraphEvent::Relisted {
                api_version,
                kind,
                uids,
            } => {
                let gone: Vec<String> = self
                    .nodes
                    .values()
                    .filter(|node| {
                        !node.virtual_node
                            && node.identity.api_version == api_version
                            && node.identity.kind == kind
                            && !uids.contains(&node.identity.uid)
                    })
                    .map(|node| node.identity.uid.clone())
                    .collect();
                for uid in gone {
                    self.remove(&uid, &mut work);
                }
            }
        }
        work
    }

    fn upsert(&mut self, observed: Observed, work: &mut Work) {
        let uid = observed.identity.uid.clone();
        let orphaning = observed.being_deleted && observed.has(ORPHAN);
        let foreground = observed.being_deleted && observed.has(FOREGROUND);
        let (was_orphaning, was_deleting_dependents) = match self.nodes.get_mut(&uid) {
            // Objects without owners matter only once something refers to them or a delete
            // waits for the collector: the graph stays as small as the ownership it tracks.
            None if observed.owners.is_empty() && !orphaning && !foreground => return,
            None => {
                self.nodes.insert(
                    uid.clone(),
                    Node {
                        identity: observed.identity.clone(),
                        owners: Vec::new(),
                        dependents: BTreeSet::new(),
                        being_deleted: observed.being_deleted,
                        deleting_dependents: false,
                        orphaning: false,
                        virtual_node: false,
                    },
                );
                (false, false)
            }
            Some(node) => {
                let before = (node.orphaning, node.deleting_dependents);
                if node.virtual_node {
                    node.virtual_node = false;
                    node.identity = observed.identity.clone();
                }
                node.being_deleted |= observed.being_deleted;
                before
            }
        };
        self.update_owners(&uid, &observed.identity.namespace, observed.owners, work);
        if let Some(node) = self.nodes.get_mut(&uid) {
            node.orphaning = orphaning;
            if orphaning && !was_orphaning {
                work.orphan.push(uid.clone());
                return;
            }
            if foreground {
                node.deleting_dependents = true;
                if !was_deleting_dependents {
                    work.delete.extend(node.dependents.iter().cloned());
                    work.delete.push(uid.clone());
                }
            }
        }
        self.prune(&uid);
    }

    /// Drops a node that no longer takes part in any ownership.
    fn prune(&mut self, uid: &str) {
        if self.nodes.get(uid).is_some_and(|node| {
            node.owners.is_empty()
                && node.dependents.is_empty()
                && !node.deleting_dependents
                && !node.orphaning
        }) {
            self.nodes.remove(uid);
        }
    }

    /// Replaces the owners of `uid`, keeping the owners' dependent sets in step.
    fn update_owners(
        &mut self,
        uid: &str,
        namespace: &str,
        owners: Vec<OwnerReference>,
        work: &mut Work,
    ) {
        let old = self
            .nodes
            .get(uid)
            .map(|node| node.owners.clone())
            .unwrap_or_default();
        if old == owners {
            return;
        }
        for previous in &old {
            let kept = owners.iter().find(|owner| owner.uid == previous.uid);
            let unblocked = previous.block_owner_deletion == Some(true)
                && kept.is_none_or(|owner| owner.block_owner_deletion != Some(true));
            if kept.is_none()
                && let Some(owner) = self.nodes.get_mut(&previous.uid)
            {
                owner.dependents.remove(uid);
                if !owner.deleting_dependents {
                    self.prune(&previous.uid);
                }
            }
            // An owner waiting for its dependents may be free to go now.
            if unblocked
                && self
                    .nodes
                    .get(&previous.uid)
                    .is_some_and(|owner| owner.deleting_dependents)
            {
                work.delete.push(previous.uid.clone());
            }
        }
        for owner in &owners {
            if old.iter().any(|previous| previous.uid == owner.uid) {
                continue;
            }
            match self.nodes.get_mut(&owner.uid) {
                Some(node) => {
                    node.dependents.insert(uid.to_owned());
                }
                None => {
                    // An owner not seen yet: a virtual node, checked against the API.
                    let mut dependents = BTreeSet::new();
                    dependents.insert(uid.to_owned());
                    self.nodes.insert(
                        owner.uid.clone(),
                        Node {
                            identity: Identity {
                                api_version: owner.api_version.clone(),
                                kind: owner.kind.clone(),
                                namespace: namespace.to_owned(),
                                name: owner.name.clone(),
                                uid: owner.uid.clone(),
                            },
                            owners: Vec::new(),
                            dependents,
                            being_deleted: false,
                            deleting_dependents: false,
                            orphaning: false,
                            virtual_node: true,
                        },
                    );
                    work.delete.push(owner.uid.clone());
                }
            }
        }
        if let Some(node) = self.nodes.get_mut(uid) {
            node.owners = owners;
        }
    }

    fn remove(&mut self, uid: &str, work: &mut Work) {
        let Some(node) = self.nodes.remove(uid) else {
            return;
        };
        for owner in &node.owners {
            if let Some(owner_node) = self.nodes.get_mut(&owner.uid) {
                owner_node.dependents.remove(uid);
                if owner_node.deleting_dependents {
                    work.delete.push(owner.uid.clone());
                } else {
                    self.prune(&owner.uid);
                }
            }
        }
        if !node.dependents.is_empty() {
            self.mark_absent(&node.identity.namespace, uid);
        }
        work.delete.extend(node.dependents.iter().cloned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(kind: &str, name: &str, uid: &str) -> Identity {
        Identity {
            api_version: if kind == "Pod" { "v1" } else { "apps/v1" }.to_owned(),
            kind: kind.to_owned(),
            namespace: "default".to_owned(),
            name: name.to_owned(),
            uid: uid.to_owned(),
        }
    }

    fn owner_ref(kind: &str, name: &str, uid: &str, block: bool) -> OwnerReference {
        OwnerReference {
            api_version: "apps/v1".to_owned(),
            kind: kind.to_owned(),
            name: name.to_owned(),
            uid: uid.to_owned(),
            controller: Some(true),
            block_owner_deletion: Some(block),
        }
    }

    fn observed(id: Identity, owners: Vec<OwnerReference>, finalizers: &[&str]) -> Observed {
        Observed {
            identity: id,
            owners,
            being_deleted: !finalizers.is_empty(),
            finalizers: finalizers.iter().map(|f| f.to_string()).collect(),
        }
    }

    #[test]
    fn a_dependent_of_an_unseen_owner_makes_a_virtual_node_to_check() {
        let mut graph = Graph::default();
        let work = graph.process(GraphEvent::Upsert(observed(
            identity("Pod", "web-1", "p1"),
            vec![owner_ref("ReplicaSet", "web", "rs1", true)],
            &[],
        )));
        assert_eq!(work.delete, ["rs1"]);
        assert!(graph.node("rs1").is_some_and(|node| node.virtual_node));
        // The owner shows up: no longer virtual, no new work.
        let work = graph.process(GraphEvent::Upsert(observed(
            identity("ReplicaSet", "web", "rs1"),
            vec![],
            &[],
        )));
        assert_eq!(work, Work::default());
        assert!(graph.node("rs1").is_some_and(|node| !node.virtual_node));
    }

    #[test]
    fn deleting_an_owner_queues_its_dependents() {
        let mut graph = Graph::default();
        graph.process(GraphEvent::Upsert(observed(
            identity("ReplicaSet", "web", "rs1"),
            vec![],
            &[],
        )));
        graph.process(GraphEvent::Upsert(observed(
            identity("Pod", "web-1", "p1"),
            vec![owner_ref("ReplicaSet", "web", "rs1", true)],
            &[],
        )));
        let work = graph.process(GraphEvent::Delete(observed(
            identity("ReplicaSet", "web", "rs1"),
            vec![],
            &[],
        )));
        assert_eq!(work.delete, ["p1"]);
        assert!(graph.is_absent("default", "rs1"));
    }

    #[test]
    fn foreground_and_orphan_finalizers_start_their_work_once() {
        let mut graph = Graph::default();
        graph.process(GraphEvent::Upsert(observed(
            identity("ReplicaSet", "web", "rs1"),
            vec![],
            &[],
        )));
        graph.process(GraphEvent::Upsert(observed(
            identity("Pod", "web-1", "p1"),
            vec![owner_ref("ReplicaSet", "web", "rs1", true)],
            &[],
        )));
        let marked = observed(identity("ReplicaSet", "web", "rs1"), vec![], &[FOREGROUND]);
        let work = graph.process(GraphEvent::Upsert(marked.clone()));
        assert_eq!(work.delete, ["p1", "rs1"]);
        assert_eq!(graph.blocking_dependents("rs1").len(), 1);
        assert_eq!(graph.process(GraphEvent::Upsert(marked)), Work::default());
        // The dependent goes: the owner is checked again.
        let work = graph.process(GraphEvent::Delete(observed(
            identity("Pod", "web-1", "p1"),
            vec![owner_ref("ReplicaSet", "web", "rs1", true)],
            &[],
        )));
        assert_eq!(work.delete, ["rs1"]);

        graph.process(GraphEvent::Upsert(observed(
            identity("ReplicaSet", "api", "rs2"),
            vec![],
            &[],
        )));
        let work = graph.process(GraphEvent::Upsert(observed(
            identity("ReplicaSet", "api", "rs2"),
            vec![],
            &[ORPHAN],
        )));
        assert_eq!(work.orphan, ["rs2"]);
    }

    #[test]
    fn dropping_a_blocking_reference_unblocks_a_waiting_owner() {
        let mut graph = Graph::default();
        graph.process(GraphEvent::Upsert(observed(
            identity("ReplicaSet", "web", "rs1"),
            vec![],
            &[FOREGROUND],
        )));
        graph.process(GraphEvent::Upsert(observed(
            identity("Pod", "web-1", "p1"),
            vec![owner_ref("ReplicaSet", "web", "rs1", true)],
            &[],
        )));
        let work = graph.process(GraphEvent::Upsert(observed(
            identity("Pod", "web-1", "p1"),
            vec![],
            &[],
        )));
        assert_eq!(work.delete, ["rs1"]);
        assert!(graph.dependents("rs1").is_empty());
    }

    #[test]
    fn a_relist_removes_what_it_no_longer_holds() {
        let mut graph = Graph::default();
        graph.process(GraphEvent::Upsert(observed(
            identity("Pod", "web-1", "p1"),
            vec![owner_ref("ReplicaSet", "web", "rs1", true)],
            &[],
        )));
        graph.process(GraphEvent::Upsert(observed(
            identity("ReplicaSet", "web", "rs1"),
            vec![],
            &[],
        )));
        let work = graph.process(GraphEvent::Relisted {
            api_version: "v1".into(),
            kind: "Pod".into(),
            uids: HashSet::new(),
        });
        assert_eq!(work, Work::default());
        assert!(graph.is_empty(), "the owner of nothing is pruned too");
        graph.process(GraphEvent::Relisted {
            api_version: "apps/v1".into(),
            kind: "ReplicaSet".into(),
            uids: HashSet::new(),
        });
        assert!(graph.is_empty());
    }
}
