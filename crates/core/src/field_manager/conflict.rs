//! Apply conflicts: fields another manager owns that an apply would change, reported as upstream's
//! 409 (`Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1:
//! .spec.replicas`) with one `FieldManagerConflict` cause per field.

use serde_json::json;

use super::managers::ManagerId;
use super::path::{Path, path_string};
use crate::status::{Cause, StatusError};

/// One field another manager owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The owner.
    pub manager: ManagerId,
    /// The field.
    pub path: Path,
}

/// The conflicts of one apply, by manager then path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conflicts(pub Vec<Conflict>);

impl Conflicts {
    /// Upstream's message: one conflict on one line, several grouped by manager.
    pub fn message(&self) -> String {
        match self.0.as_slice() {
            [one] => format!(
                "Apply failed with 1 conflict: conflict with {}: {}",
                one.manager.describe(),
                path_string(&one.path)
            ),
            many => {
                let mut managers: Vec<&ManagerId> = many.iter().map(|c| &c.manager).collect();
                managers.sort_by_key(|id| identifier(id));
                managers.dedup();
                let mut lines = Vec::new();
                for manager in managers {
                    lines.push(format!("conflicts with {}:", manager.describe()));
                    for conflict in many.iter().filter(|c| &c.manager == manager) {
                        lines.push(format!("- {}", path_string(&conflict.path)));
                    }
                }
                format!(
                    "Apply failed with {} conflicts: {}",
                    many.len(),
                    lines.join("\n")
                )
            }
        }
    }

    /// The 409 Conflict Status.
    pub fn to_status(&self) -> StatusError {
        let causes: Vec<Cause> = self
            .0
            .iter()
            .map(|conflict| {
                Cause::new(
                    "FieldManagerConflict",
                    &format!("conflict with {}", conflict.manager.describe()),
                    &path_string(&conflict.path),
                )
            })
            .collect();
        StatusError {
            code: 409,
            body: json!({
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": self.message(),
                "reason": "Conflict",
                "details": {"causes": causes},
                "code": 409,
            }),
        }
    }
}

/// Upstream sorts managers by their JSON identifier (`{"manager":...,"operation":...}`).
fn identifier(id: &ManagerId) -> String {
    let mut text = format!(
        "{{\"manager\":{},\"operation\":{}",
        json!(id.manager),
        json!(id.operation.as_str())
    );
    if !id.api_version.is_empty() {
        text.push_str(&format!(",\"apiVersion\":{}", json!(id.api_version)));
    }
    if !id.subresource.is_empty() {
        text.push_str(&format!(",\"subresource\":{}", json!(id.subresource)));
    }
    text.push('}');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field_manager::managers::Operation;
    use crate::field_manager::path::PathElement;

    fn path(names: &[&str]) -> Path {
        names.iter().map(|name| PathElement::field(name)).collect()
    }

    #[test]
    fn messages_like_upstream() {
        let csa = ManagerId::new(
            "kubectl-client-side-apply",
            Operation::Update,
            "apps/v1",
            "",
        );
        let one = Conflicts(vec![Conflict {
            manager: csa.clone(),
            path: path(&["spec", "replicas"]),
        }]);
        assert_eq!(
            one.message(),
            "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.replicas"
        );
        let status = one.to_status();
        assert_eq!(status.code, 409);
        assert_eq!(status.body["reason"], "Conflict");
        assert_eq!(
            status.body["details"]["causes"][0],
            json!({"reason": "FieldManagerConflict", "field": ".spec.replicas",
                   "message": "conflict with \"kubectl-client-side-apply\" using apps/v1"})
        );
        let applier = ManagerId::new("deployer", Operation::Apply, "apps/v1", "");
        let two = Conflicts(vec![
            Conflict {
                manager: csa.clone(),
                path: path(&["spec", "replicas"]),
            },
            Conflict {
                manager: applier,
                path: path(&["spec", "paused"]),
            },
            Conflict {
                manager: csa,
                path: path(&["spec", "minReadySeconds"]),
            },
        ]);
        assert_eq!(
            two.message(),
            "Apply failed with 3 conflicts: conflicts with \"deployer\":\n- .spec.paused\n\
             conflicts with \"kubectl-client-side-apply\" using apps/v1:\n- .spec.replicas\n- .spec.minReadySeconds"
        );
    }
}
