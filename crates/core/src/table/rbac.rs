//! Access tables: serviceaccounts (Secrets), rolebindings and clusterrolebindings (Role; with `-o wide`
//! Users, Groups and ServiceAccounts). Roles and clusterroles have no printer upstream and get the
//! default Name / Created At table.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::descriptions as doc;
use super::fields::{list, text};
use super::{ColumnDefinition, Printer, column, name_and_age};

pub(crate) const SERVICE_ACCOUNTS: Printer = Printer {
    columns: service_account_columns,
    cells: service_account_cells,
};
pub(crate) const ROLE_BINDINGS: Printer = Printer {
    columns: role_binding_columns,
    cells: binding_cells,
};
pub(crate) const CLUSTER_ROLE_BINDINGS: Printer = Printer {
    columns: cluster_role_binding_columns,
    cells: binding_cells,
};

fn service_account_columns() -> Vec<ColumnDefinition> {
    vec![
        ColumnDefinition::name(),
        column("Secrets", "string", doc::SA_SECRETS, 0),
        ColumnDefinition::age(),
    ]
}

fn service_account_cells(account: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (name, age) = name_and_age(account, now);
    vec![name, list(account, "/secrets").len().into(), age]
}

fn binding_columns(role_ref: &str, of: &str) -> Vec<ColumnDefinition> {
    vec![
        ColumnDefinition::name(),
        column("Role", "string", role_ref, 0),
        ColumnDefinition::age(),
        column("Users", "string", &format!("Users in the {of}"), 1),
        column("Groups", "string", &format!("Groups in the {of}"), 1),
        column(
            "ServiceAccounts",
            "string",
            &format!("ServiceAccounts in the {of}"),
            1,
        ),
    ]
}

fn role_binding_columns() -> Vec<ColumnDefinition> {
    binding_columns(doc::RB_ROLE_REF, "roleBinding")
}

fn cluster_role_binding_columns() -> Vec<ColumnDefinition> {
    binding_columns(doc::CRB_ROLE_REF, "clusterRoleBinding")
}

/// Role (`Kind/name`), Age, then users, groups and service accounts (`namespace/name`), each joined
/// by `, ` as upstream's `SubjectsStrings` sorts them.
fn binding_cells(binding: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (name, age) = name_and_age(binding, now);
    let mut users = Vec::new();
    let mut groups = Vec::new();
    let mut accounts = Vec::new();
    for subject in list(binding, "/subjects") {
        let subject_name = text(subject, "/name");
        match text(subject, "/kind") {
            "ServiceAccount" => {
                accounts.push(format!("{}/{subject_name}", text(subject, "/namespace")));
            }
            "User" => users.push(subject_name.to_owned()),
            "Group" => groups.push(subject_name.to_owned()),
            _ => {}
        }
    }
    let role = format!(
        "{}/{}",
        text(binding, "/roleRef/kind"),
        text(binding, "/roleRef/name")
    );
    vec![
        name,
        role.into(),
        age,
        users.join(", ").into(),
        groups.join(", ").into(),
        accounts.join(", ").into(),
    ]
}
